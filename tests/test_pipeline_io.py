"""Whole pipelines saved without pickle: skops for sklearn, sklstm for LSTMs."""

import io
import json
import os
import warnings
import zipfile

import numpy as np
import pytest
from conftest import SETTINGS
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklstm import LSTMClassifier, LSTMRegressor, load, save
from sklstm.forecasting import WindowedForecaster
from sklstm.preprocessing import SequenceScaler, TextSequencer

sio = pytest.importorskip("skops.io")

FAST = SETTINGS["fast"]


def test_scaler_and_lstm_round_trip(tmp_path, reg_data):
    X, y = reg_data
    pipe = make_pipeline(SequenceScaler(), LSTMRegressor(**FAST)).fit(X, y)
    again = load(save(pipe, tmp_path / "pipe.sklstm"))
    assert isinstance(again, Pipeline) and isinstance(again[-1], LSTMRegressor)
    np.testing.assert_array_equal(again.predict(X), pipe.predict(X))
    assert isinstance(pipe[-1], LSTMRegressor)  # the original is left whole


def test_a_scaler_fitted_on_univariate_2d_input_round_trips(tmp_path, reg_data):
    """2D input is a batch of univariate series: n_features_in_ counts its
    columns while the statistics hold one value (input_size_ is 1)."""
    X, y = reg_data
    X2 = X[:, :, 0]
    pipe = make_pipeline(SequenceScaler(), LSTMRegressor(**FAST)).fit(X2, y)
    assert pipe[0].n_features_in_ == X2.shape[1] and pipe[0].mean_.shape == (1,)
    again = load(save(pipe, tmp_path / "pipe.sklstm"))
    np.testing.assert_array_equal(again.predict(X2), pipe.predict(X2))
    with pytest.raises(ValueError, match="expecting"):
        again.predict(X2[:, :-1])  # still checked against the columns


def test_text_pipeline_round_trip(tmp_path):
    texts = ["good film", "bad film", "very good", "very bad"] * 10
    labels = ["pos", "neg", "pos", "neg"] * 10
    pipe = make_pipeline(TextSequencer(), LSTMClassifier(**FAST, embedding_dim=4))
    pipe.fit(texts, labels)
    again = load(save(pipe, tmp_path / "text.sklstm"))
    np.testing.assert_array_equal(again.predict_proba(texts), pipe.predict_proba(texts))


def test_best_estimator_of_a_search_round_trips(tmp_path, clf_data):
    X, y = clf_data
    search = GridSearchCV(
        make_pipeline(SequenceScaler(), LSTMClassifier(**FAST)),
        {"lstmclassifier__lr": [1e-3, 1e-2]},
        cv=2,
    ).fit(X, y)
    again = load(save(search.best_estimator_, tmp_path / "best.sklstm"))
    np.testing.assert_array_equal(again.predict(X), search.predict(X))
    # the search itself is refused with the pointer, before anything is written
    with pytest.raises(TypeError, match=r"save\(search\.best_estimator_, path\)"):
        save(search, tmp_path / "search.sklstm")
    assert not (tmp_path / "search.sklstm").exists()
    unfitted = GridSearchCV(LSTMClassifier(**FAST), {"lr": [1e-3]})
    with pytest.raises(TypeError, match="refit=True"):
        save(unfitted, tmp_path / "unfitted.sklstm")


def test_nested_pipelines(tmp_path, reg_data):
    X, y = reg_data
    inner = make_pipeline(SequenceScaler(), LSTMRegressor(**FAST))
    pipe = make_pipeline(FunctionTransformer(), inner).fit(X, y)
    again = load(save(pipe, tmp_path / "nested.sklstm"))
    np.testing.assert_array_equal(again.predict(X), pipe.predict(X))


def _replace_member(path, name, data):
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members[name] = data
    out = path.with_name("edited.sklstm")
    with zipfile.ZipFile(out, "w") as archive:
        for n, d in members.items():
            archive.writestr(n, d)
    return out


def test_untrusted_types_are_refused(tmp_path, reg_data):
    X, y = reg_data
    pipe = make_pipeline(SequenceScaler(), LSTMRegressor(**FAST)).fit(X, y)
    path = save(pipe, tmp_path / "pipe.sklstm")
    # a pipeline.skops holding a type that is neither skops' nor sklstm's
    foreign = sio.dumps(make_pipeline(FunctionTransformer(func=os.getcwd)))
    out = _replace_member(path, "pipeline.skops", foreign)
    with pytest.raises(ValueError, match="does not trust.*os.getcwd|does not trust"):
        load(out)


def test_pipeline_file_with_a_bad_model_is_refused(tmp_path, reg_data):
    X, y = reg_data
    pipe = make_pipeline(SequenceScaler(), LSTMRegressor(**FAST)).fit(X, y)
    path = save(pipe, tmp_path / "pipe.sklstm")
    with zipfile.ZipFile(path) as archive:
        model = archive.read("model-0.sklstm")
    with zipfile.ZipFile(io.BytesIO(model)) as inner:
        meta = json.loads(inner.read("meta.json"))
        weights = inner.read("weights.pt")
    meta["fitted"]["y_scale_"]["data"] = [-1.0]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as inner:
        inner.writestr("meta.json", json.dumps(meta))
        inner.writestr("weights.pt", weights)
    out = _replace_member(path, "model-0.sklstm", buffer.getvalue())
    with pytest.raises(ValueError, match=r"edited.sklstm\[model-0\].*y_scale_"):
        load(out)


def test_other_objects_are_refused(tmp_path):
    with pytest.raises(TypeError, match="sklstm estimator, or a Pipeline"):
        save(FunctionTransformer(), tmp_path / "x.sklstm")


def _meta_estimators():
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.ensemble import StackingRegressor, VotingRegressor
    from sklearn.multioutput import MultiOutputRegressor

    lstm = LSTMRegressor(**FAST)
    other = LSTMRegressor(**{**FAST, "hidden_size": 3, "random_state": 1})
    return {
        "transformed_target": (
            TransformedTargetRegressor(
                regressor=make_pipeline(SequenceScaler(), lstm),
                func=np.log,
                inverse_func=np.exp,
            ),
            "reg",
        ),
        "calibrated": (CalibratedClassifierCV(LSTMClassifier(**FAST), cv=2), "clf"),
        "voting": (VotingRegressor([("a", lstm), ("b", other)]), "reg"),
        "stacking": (StackingRegressor([("a", lstm), ("b", other)], cv=2), "reg"),
        "multi_output": (MultiOutputRegressor(lstm), "multi"),
    }


@pytest.mark.parametrize("name", sorted(_meta_estimators()))
def test_an_lstm_inside_a_meta_estimator_round_trips(tmp_path, name, reg_data):
    """Files walk objects by protocol: an LSTM anywhere inside is stored."""
    X, y = reg_data
    est, task = _meta_estimators()[name]
    target = {"reg": y, "clf": (y > 10).astype(int), "multi": np.c_[y, -y]}[task]
    est.fit(X, target)
    again = load(save(est, tmp_path / f"{name}.sklstm"))
    assert type(again) is type(est)
    np.testing.assert_allclose(again.predict(X), est.predict(X), rtol=1e-6)
    if task == "clf":
        np.testing.assert_allclose(again.predict_proba(X), est.predict_proba(X))
    # the unfitted templates come back as unfitted estimators with their params
    template = again.get_params(deep=False).get("regressor") or again.get_params(
        deep=False
    ).get("estimator")
    if template is not None:
        assert not hasattr(getattr(template, "steps", [[0, template]])[-1][1], "net_")


def test_a_forecaster_around_a_meta_estimator_round_trips(tmp_path):
    from sklearn.compose import TransformedTargetRegressor

    from sklstm.forecasting import WindowedForecaster

    t = np.arange(80, dtype=float)
    series = 5 + np.sin(t / 3)
    inner = TransformedTargetRegressor(
        LSTMRegressor(**FAST), func=np.log, inverse_func=np.exp
    )
    forecaster = WindowedForecaster(inner, lookback=6).fit(series[:, None], series)
    again = load(save(forecaster, tmp_path / "forecaster.sklstm"))
    np.testing.assert_allclose(again.forecast(3), forecaster.forecast(3), rtol=1e-6)


def test_torch_state_outside_an_lstm_is_refused_naming_where(tmp_path, reg_data):
    import torch

    X, y = reg_data
    odd = FunctionTransformer(kw_args={"layer": torch.nn.Linear(2, 2)})
    pipe = make_pipeline(odd, LSTMRegressor(**FAST))
    pipe.steps[0] = ("odd", FunctionTransformer())
    pipe.fit(X, y)
    pipe.steps[0] = ("odd", odd)
    with pytest.raises(ValueError, match=r"kw_args\['layer'\].*torch Linear"):
        save(pipe, tmp_path / "odd.sklstm")


# ----------------------------------------------------------- hostile files
class Holder(RegressorMixin, BaseEstimator):
    """A meta-estimator of the tests' own: an LSTM inside, a path-named
    parameter, and a fitted state it checks itself when loaded."""

    def __init__(self, estimator=None, log_dir=None):
        self.estimator = estimator
        self.log_dir = log_dir

    def fit(self, X, y):
        self.estimator_ = clone(self.estimator).fit(X, y)
        self.width_ = X.shape[2]
        return self

    def predict(self, X):
        return self.estimator_.predict(X)

    def _check_loaded_state(self):
        if not isinstance(self.width_, int):
            raise TypeError(f"width_ must be an int, got {self.width_!r}")
        if self.width_ != self.estimator_.n_features_in_:
            raise ValueError(
                f"width_={self.width_} but the inner model reads "
                f"{self.estimator_.n_features_in_} features"
            )


HOLDER = f"{Holder.__module__}.Holder"


def _zip(items):
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile's "Duplicate name"
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data, compression in items:
                archive.writestr(name, data, compression)
    return buffer.getvalue()


def _unzip(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [
            (i.filename, archive.read(i), i.compress_type) for i in archive.infolist()
        ]


def _edit_skops(path, edit=None, extra=(), name="edited.sklstm"):
    """A copy of a pipeline file whose skops schema went through ``edit``
    and whose skops archive holds the ``extra`` members."""
    outer = _unzip(path.read_bytes())
    skops_part = dict(
        (n, (d, c))
        for n, d, c in _unzip(dict((n, d) for n, d, _ in outer)["pipeline.skops"])
    )
    schema = json.loads(skops_part["schema.json"][0])
    if edit is not None:
        edit(schema)
    skops_part["schema.json"] = (json.dumps(schema).encode(), zipfile.ZIP_STORED)
    blob = _zip([(n, d, c) for n, (d, c) in skops_part.items()] + list(extra))
    out = path.with_name(name)
    out.write_bytes(
        _zip([(n, blob if n == "pipeline.skops" else d, c) for n, d, c in outer])
    )
    return out


def _attributes(schema):
    """The attribute nodes of the object a skops schema holds."""
    return schema["content"]["content"]


def _json_node(value):
    return {
        "__class__": type(value).__name__,
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
        "__id__": 1,
    }


@pytest.fixture
def pipe_file(tmp_path, reg_data):
    X, y = reg_data
    pipe = make_pipeline(SequenceScaler(), LSTMRegressor(**FAST)).fit(X, y)
    return save(pipe, tmp_path / "pipe.sklstm")


def test_a_planted_pipeline_memory_is_reset_unless_restore_paths(
    pipe_file, tmp_path, reg_data
):
    """Pipeline.memory would make a refit read (unpickle) a joblib cache."""
    planted = tmp_path / "planted"
    planted.mkdir()

    def plant(schema):
        _attributes(schema)["memory"] = _json_node(str(planted))

    out = _edit_skops(pipe_file, plant)
    with pytest.warns(UserWarning, match=r"Pipeline.memory.*reset.*restore_paths"):
        pipe = load(out)
    assert pipe.memory is None
    pipe.fit(*reg_data)  # a refit reads and writes nothing there
    assert not any(planted.iterdir())
    assert load(out, restore_paths=True).memory == str(planted)


def test_path_named_parameters_of_any_estimator_are_reset(tmp_path, reg_data):
    X, y = reg_data
    held = Holder(LSTMRegressor(**FAST), log_dir=str(tmp_path / "logs")).fit(X, y)
    path = save(held, tmp_path / "held.sklstm")
    with pytest.warns(UserWarning, match=r"the Holder.log_dir"):
        again = load(path, trusted=[HOLDER])
    assert again.log_dir is None
    np.testing.assert_array_equal(again.predict(X), held.predict(X))


def test_regular_expressions_from_a_file_are_refused_unless_trusted(tmp_path):
    texts = ["good film", "bad film", "very good", "very bad"] * 5
    pipe = make_pipeline(TextSequencer(), LSTMClassifier(**FAST, embedding_dim=3))
    path = save(pipe.fit(texts, [1, 0, 1, 0] * 5), tmp_path / "text.sklstm")

    def catastrophic(schema):
        sequencer = _attributes(schema)["steps"]["content"][0]["content"][1]
        _attributes(sequencer)["token_pattern"] = _json_node("(a+)+$")

    out = _edit_skops(path, catastrophic)
    name = "sklstm.preprocessing._text.TextSequencer.token_pattern"
    with pytest.raises(ValueError, match=rf"token_pattern is the regular.*{name}"):
        load(out)
    trusted = load(out, trusted=[name])
    assert trusted[0].token_pattern == "(a+)+$"
    load(path)  # the default pattern needs no trust


@pytest.mark.parametrize(
    "attribute, value, match",
    [
        ("verbose", "loud", r"the Pipeline has invalid parameters.*verbose"),
        ("steps", 7, r"the Pipeline has invalid parameters.*steps"),
    ],
)
def test_restored_parameters_are_validated(pipe_file, attribute, value, match):
    def edit(schema):
        _attributes(schema)[attribute] = _json_node(value)

    with pytest.raises(ValueError, match=rf"edited.sklstm: {match}"):
        load(_edit_skops(pipe_file, edit))


def test_a_step_s_parameters_are_validated(pipe_file):
    def edit(schema):
        scaler = _attributes(schema)["steps"]["content"][0]["content"][1]
        _attributes(scaler)["method"] = _json_node("sometimes")

    with pytest.raises(ValueError, match=r"steps\[0\]\[1\] \(SequenceScaler\)"):
        load(_edit_skops(pipe_file, edit))


def _npy(array, **header):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    data = buffer.getvalue()
    if header:
        head = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            head, {"descr": "<f8", "fortran_order": False, **header}
        )
        data = head.getvalue() + b"\0" * 64
    return data


def _with_array(name, count=1):
    """An edit adding ``count`` distinct references to member ``name``."""

    def edit(schema):
        node = {
            "__class__": "ndarray",
            "__module__": "numpy",
            "__loader__": "NdArrayNode",
            "type": "numpy",
            "file": name,
        }
        _attributes(schema)["extra"] = {
            "__class__": "list",
            "__module__": "builtins",
            "__loader__": "ListNode",
            "content": [dict(node, __id__=100 + i) for i in range(count)],
            "__id__": 99,
        }

    return edit


def test_the_skops_archive_is_checked_before_skops_reads_it(pipe_file, tmp_path):
    marker = tmp_path / "marker"
    cases = {
        "an array header lies about its size": (
            _with_array("lie.npy"),
            [("lie.npy", _npy(None, shape=(10**9,)), zipfile.ZIP_STORED)],
            r"lie.npy.*shape \(1000000000,\).*holds 192 bytes",
        ),
        "an array of objects (a pickle)": (
            _with_array("obj.npy"),
            [("obj.npy", _npy(np.array([_Payload(marker)])), zipfile.ZIP_STORED)],
            r"obj.npy.*Python objects",
        ),
        "a repeated member name": (
            None,
            [("schema.json", b"{}", zipfile.ZIP_STORED)],
            r"'schema.json' occurs more than once",
        ),
        "one array read a thousand times": (
            _with_array("big.npy", 1000),
            [("big.npy", _npy(np.zeros(2**17 - 16)), zipfile.ZIP_DEFLATED)],
            r"big.npy \(2000x\).*decompression bomb",
        ),
        "a member inflating 1000-fold": (
            _with_array("bomb.npy"),
            [("bomb.npy", _npy(np.zeros(2**21)), zipfile.ZIP_DEFLATED)],
            r"bomb.npy inflates \d+-fold",
        ),
    }
    for name, (edit, extra, match) in cases.items():
        out = _edit_skops(pipe_file, edit, extra)
        assert out.stat().st_size < 300_000, name
        with pytest.raises(ValueError, match=match):
            load(out)
    assert not marker.exists()


def test_nested_members_share_one_inflation_budget(pipe_file):
    """Each level inflates less than 200-fold; together they would inflate
    far more than 200 times the file: refused before the inner member is
    read."""
    outer = _unzip(pipe_file.read_bytes())
    model = _unzip(dict((n, d) for n, d, _ in outer)["model-0.sklstm"])
    # 40 MiB of JSON whitespace that deflates about 170-fold
    block = np.random.RandomState(0).choice(list(b" \t\n\r"), 4096).astype(np.uint8)
    meta = json.dumps(json.loads(model[0][1])).encode()
    info = zipfile.ZipInfo("meta.json")
    info.compress_type = zipfile.ZIP_DEFLATED
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        with archive.open(info, "w") as member:
            member.write(meta)
            for _ in range(10 * 2**10):
                member.write(block.tobytes())
        archive.writestr("weights.pt", model[1][1])
    inner = buffer.getvalue()
    out = pipe_file.with_name("nested.sklstm")
    out.write_bytes(
        _zip(
            [
                (n, inner, zipfile.ZIP_DEFLATED) if n == "model-0.sklstm" else (n, d, c)
                for n, d, c in outer
            ]
        )
    )
    with zipfile.ZipFile(io.BytesIO(inner)) as archive:
        info = archive.getinfo("meta.json")
        assert info.file_size < 200 * info.compress_size  # within the ratio
    assert out.stat().st_size < 60_000
    with pytest.raises(ValueError, match=r"nested.sklstm.*nested members included"):
        load(out)


@pytest.mark.parametrize("version", [0, -1, 2, "1", None])
def test_pipeline_format_versions_outside_the_known_range(pipe_file, version):
    outer = _unzip(pipe_file.read_bytes())
    meta = json.loads(outer[0][1])
    meta["format_version"] = version
    out = pipe_file.with_name("v.sklstm")
    out.write_bytes(_zip([("meta.json", json.dumps(meta).encode(), 8), *outer[1:]]))
    with pytest.raises(
        ValueError, match=rf"v.sklstm: pipeline file format {version!r}"
    ):
        load(out)


def test_a_class_load_names_what_a_pipeline_file_holds(pipe_file):
    with pytest.raises(
        ValueError, match=r"holds a pipeline.*sklearn.pipeline.Pipeline.*LSTMRegressor"
    ):
        LSTMRegressor.load(pipe_file)
    assert isinstance(load(pipe_file, estimator_class=Pipeline), Pipeline)
    with pytest.raises(ValueError, match=r"holds a sklearn.pipeline.Pipeline, not a "):
        load(pipe_file, estimator_class=TransformedTargetRegressor)


def test_restored_objects_check_their_own_state(tmp_path, reg_data):
    """The protocol: an object's _check_loaded_state refuses its file."""
    X, y = reg_data
    held = Holder(LSTMRegressor(**FAST)).fit(X, y)
    path = save(held, tmp_path / "held.sklstm")
    np.testing.assert_array_equal(
        load(path, trusted=[HOLDER]).predict(X), held.predict(X)
    )
    for value, match in ((7, r"width_=7 but the inner model reads 2"), ("2", "int")):

        def edit(schema, value=value):
            _attributes(schema)["width_"] = _json_node(value)

        with pytest.raises(
            ValueError,
            match=rf"edited.sklstm: the Holder holds an invalid fitted state.*{match}",
        ):
            load(_edit_skops(path, edit), trusted=[HOLDER])


@pytest.mark.parametrize(
    "attribute, value",
    [
        ("lookback", 10**9),
        ("horizon", 10**9),
        ("differences", 10**9),
        ("n_features_in_", 3),
    ],
)
def test_a_forecaster_with_an_edited_state_is_refused(tmp_path, attribute, value):
    series = np.sin(np.arange(60.0) / 3)
    forecaster = WindowedForecaster(LSTMRegressor(**FAST), lookback=5)
    path = save(forecaster.fit(series[:, None], series), tmp_path / "fc.sklstm")

    def edit(schema):
        _attributes(schema)[attribute] = _json_node(value)

    with pytest.raises(ValueError, match=r"edited.sklstm.*WindowedForecaster"):
        load(_edit_skops(path, edit))


class _Payload:
    """Pickles to ``os.mkdir(marker)``: harmless and observable if ever run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize(
    "step, attribute, value, match",
    [
        ("scaler", "n_features_in_", 5, r"n_features_in_ must be 2 \(the input_size_"),
        ("scaler", "input_size_", 5, r"n_features_in_ must be 5 \(the input_size_"),
        ("scaler", "input_size_", 0, "input_size_ must be a positive integer"),
        ("scaler", "_fitted_on_2d", True, r"input_size_ must be 1 \(fitted on 2D"),
        ("scaler", "_fitted_on_2d", "no", "_fitted_on_2d must be a bool"),
        ("scaler", "mean_", [1.0], r"mean_ must be a finite float array of shape"),
        ("scaler", "n_steps_seen_", 0, "n_steps_seen_ must be a positive integer"),
        ("text", "vocab_size_", 10**6, "vocab_size_ must be"),
    ],
)
def test_transformers_with_an_edited_state_are_refused(
    tmp_path, reg_data, step, attribute, value, match
):
    if step == "scaler":
        X, y = reg_data
        pipe = make_pipeline(SequenceScaler(), LSTMRegressor(**FAST)).fit(X, y)
        name = "SequenceScaler"
    else:
        texts = ["good film", "bad film", "very good", "very bad"] * 5
        pipe = make_pipeline(TextSequencer(), LSTMClassifier(**FAST, embedding_dim=3))
        pipe.fit(texts, ["pos", "neg", "pos", "neg"] * 5)
        name = "TextSequencer"
    path = save(pipe, tmp_path / "pipe.sklstm")
    load(path)  # as saved: accepted

    def edit(schema):
        _node_of(schema, name)["content"]["content"][attribute] = _json_node(value)

    with pytest.raises(ValueError, match=rf"edited.sklstm: .*{name}.*{match}"):
        load(_edit_skops(path, edit))


def _node_of(node, class_name):
    """The first node of a skops schema that holds a ``class_name`` object."""
    if isinstance(node, dict):
        if node.get("__class__") == class_name:
            return node
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _node_of(child, class_name)
        if found is not None:
            return found
    return None
