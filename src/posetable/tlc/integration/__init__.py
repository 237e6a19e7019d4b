"""3LC's ``tlc.integration``: training-framework integrations over posetable tables and runs.

``posetable.tlc.integration.super_gradients`` (needs super-gradients, see
:mod:`posetable.integrations.supergradients`) holds 3LC's ``PoseEstimationDataset`` and
``PoseEstimationMetricsCollectionCallback``. Nothing is imported here, so importing this
package needs no extra.
"""
