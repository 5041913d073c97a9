"""Write one file of each kind with sklstm 0.2 (commit ad8efad) and the predictions it made."""
import numpy as np, sklstm, json
from sklearn.pipeline import make_pipeline
from sklstm import LSTMClassifier, LSTMRegressor
from sklstm.preprocessing import SequenceScaler, WindowedForecaster

out = "tests/data/legacy_0.2/"
rng = np.random.RandomState(0)
X = rng.normal(size=(40, 12, 2)).astype(np.float32)
y = X[:, :, 0].sum(1)
Xq = rng.normal(size=(5, 12, 2)).astype(np.float32)
preds = {}
reg = LSTMRegressor(hidden_size=8, max_epochs=3, random_state=0, patch_size=None).fit(X, y)
reg.save(out + "model.sklstm"); preds["model"] = reg.predict(Xq).tolist()
Xl = rng.normal(size=(30, 64, 1)).astype(np.float32)
yl = (Xl[:, :, 0].mean(1) > 0).astype(int)
clf = LSTMClassifier(hidden_size=8, max_epochs=3, random_state=0, patch_size=8).fit(Xl, yl)
clf.save(out + "patched_model.sklstm"); preds["patched_model"] = clf.predict_proba(Xl[:5]).tolist()
pipe = make_pipeline(SequenceScaler(), LSTMRegressor(hidden_size=8, max_epochs=3, random_state=0)).fit(X, y)
sklstm.save(pipe, out + "pipeline.skops"); preds["pipeline"] = pipe.predict(Xq).tolist()
t = np.arange(120, dtype=float); s = np.sin(t / 4) + 0.01 * t
fc = WindowedForecaster(LSTMRegressor(hidden_size=8, max_epochs=3, random_state=0), lookback=8).fit(s.reshape(-1, 1), s)
sklstm.save(fc, out + "forecaster.skops"); preds["forecaster"] = fc.forecast(4).tolist()
json.dump({"X_query_seed": 0, "predictions": preds}, open(out + "expected.json", "w"), indent=1)
np.save(out + "queries.npy", Xq)
