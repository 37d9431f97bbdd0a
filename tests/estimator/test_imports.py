"""``import estimator`` leaves rarely needed modules to their first use; every name still works."""

import pytest

import estimator as est


def test_import_estimator_leaves_feature_columns_canned_and_export_for_later(modules_after):
    modules = modules_after("import estimator")
    for name in ("estimator.canned", "estimator.feature_column", "estimator.export",
                 "estimator.experimental"):
        assert name not in modules


def test_a_lazy_name_imports_its_module_on_first_use(modules_after):
    modules = modules_after("import estimator as est\nest.DNNClassifier\nest.export")
    assert {"estimator.canned", "estimator.canned.dnn", "estimator.export"} <= modules
    assert "estimator.feature_column" in modules  # the canned Estimators use feature columns
    assert "estimator.canned.linear" in modules_after("import estimator as est\nest.canned.linear")


def test_every_public_name_resolves_and_is_listed():
    from estimator.canned import DNNClassifier
    from estimator import feature_column

    for name in est.__all__:
        assert getattr(est, name) is not None
    assert est.DNNClassifier is DNNClassifier and est.feature_column is feature_column
    assert set(est.__all__) <= set(dir(est))


def test_an_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="'estimator' has no attribute 'NoSuchEstimator'"):
        est.NoSuchEstimator
