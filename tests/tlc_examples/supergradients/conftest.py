"""3LC's SuperGradients notebooks as scripts; run only by ``tests/test_tlc_supergradients.py``
(importing one trains a model), so pytest does not collect them."""

collect_ignore_glob = ["*.py"]
