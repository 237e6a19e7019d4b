"""The 3LC example scripts here run only through ``tests/test_tlc_examples.py``.

They are 3LC's own code (imports changed as the README's import rule says, data paths
pointed at ``tests/data``); importing them runs them, so pytest does not collect them.
"""

collect_ignore_glob = ["create_*.py", "ultralytics_*.py"]
