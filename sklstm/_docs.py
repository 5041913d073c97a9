"""Docstring sections shared by both estimators (kept once, filled in at import)."""

SHARED_PARAMETERS = """\
hidden_size : int, default=32
    Units in each LSTM layer: the model's main capacity knob. More data
    supports more units; search it on a log scale (16-256).

num_layers : int, default=1
    Stacked LSTM layers.

bidirectional : bool, default=False
    Also read each sequence backwards; the head then sees both directions'
    final states. This is safe for forecasting too: an input window holds
    only past values.

dropout : float, default=0.0
    Dropout rate in [0, 1) between stacked LSTM layers and before the head
    (on all of its input: the LSTM's output, the convolutional branch's
    summary and the series statistics).

lstm_dropout : float in [0, 1) or "auto", default="auto"
    Dropout rate on the LSTM's output alone (its summary, or each step's
    output with ``return_sequences``), after ``norm`` and before the
    convolutional branch's summary and the series statistics join it:
    where LSTM-FCN puts its dropout (Karim, Majumdar, Darabi and Chen,
    "LSTM Fully Convolutional Networks for Time Series Classification",
    IEEE Access 2018, used 0.8). Training only. ``"auto"`` is 0.5 when the
    convolutional branch is on (``conv_branch_``), else 0. On the nine
    collections of ``benchmarks/accuracy.py`` that take the branch (3
    seeds) 0.5 raised ACSF1 0.853 -> 0.867, PigCVP 0.877 -> 0.889 and
    PickupGestureWiimoteZ 0.813 -> 0.827, lowered ArrowHead 0.834 ->
    0.819, and moved the others by at most 0.004 (user guide, "Accuracy
    against MiniRocket"). Models saved before this parameter existed load
    with 0.

random_crop : float in (0, 1] or "auto", default="auto"
    Share of each training series that a random window keeps, drawn anew
    for every series at every step ("window slicing", Le Guennec,
    Malinowski and Tavenard, "Data Augmentation for Time Series
    Classification using Convolutional Neural Networks", AALTD 2016):
    the model learns from shifted views of its few series. Windows start on
    the convolutional branch's first stride (``conv_stride_``). Training
    only: ``predict`` reads every step. 1 is no crop. ``"auto"`` is 0.9 for
    a classifier with the convolutional branch on (``conv_branch_``) on
    sequences of one length from 64 steps, 0.75 from 1000 steps, else 1
    (shorter series lose a large share with each step): ragged rows are
    whole events (a gesture, an appliance switching on) that a window cuts
    short, and a regressor's target may follow from any step. On the
    collections of ``benchmarks/accuracy.py`` (3 seeds) it raised PigCVP
    0.889 -> 0.934, ACSF1 0.867 -> 0.887 and ArrowHead 0.819 -> 0.859
    (user guide, "Accuracy against MiniRocket"). Events padded to one
    length read as series of one length: give them as a list of their own
    lengths, or set 1 (PLAID zero-padded to its longest series scored
    0.662 with the crop, 0.862 without). Not with per-step outputs,
    ``stateful`` streams or token ids (``ValueError``). Models saved before
    this parameter existed load with 1.

head_units : int or tuple of int, default=()
    Widths of hidden dense layers between the LSTM and the output; ``()``
    is a linear head and an int is one hidden layer (searchable with
    scikit-optimize, whose categories cannot hold tuples).

head_activation : {"relu", "tanh", "gelu", "elu"}, default="relu"
    Activation of the hidden dense layers.

norm : {"layer", "batch"} or None, default=None
    Normalization of the LSTM output before the head. ``"layer"`` normalizes
    each sample (and each step) on its own, so it behaves the same in
    training and prediction, for any batch size and for padded sequences: the
    usual choice for recurrent models. ``"batch"`` normalizes each feature
    with batch statistics (running averages at prediction); it needs
    batches of at least 2 samples.

return_sequences : bool, default=False
    Predict one output per time step (sequence-to-sequence) instead of one
    per sequence. ``y`` then has a time axis: ``(n_samples, n_timesteps)``
    (or ``(n_samples, n_timesteps, n_outputs)`` for regression), ``predict``
    returns the same shape and ``score`` averages over all steps. For
    variable-length sequences (a list, or token rows padded with 0), ``y``
    is one array padded to the longest sequence: padded steps never enter
    the loss, nor ``score``.

stateful : bool, default=False
    For streaming a long series chunk by chunk: each ``predict`` call
    starts from the hidden state where the previous call ended, row by row
    (row ``i`` of a chunk continues row ``i`` of the previous chunk), so
    predicting chunk after chunk equals predicting the whole series at
    once. Every chunk must have the same number of rows; call
    ``reset_states()`` to start new streams. The state advances once per
    new chunk: calling ``predict``, ``predict_proba`` or ``score`` again on
    the same chunk answers from the state before it. A model fitted on 2D
    data streams chunks of any length. Not available with
    ``bidirectional=True`` (a backward pass needs the stream's end). Training
    is unaffected: every
    sequence in ``fit`` (and in every cross-validation fold) starts from a
    zero state, and ``fit`` resets the carried state.

embedding_dim : int or None, default=None
    When set, ``X`` holds integer token ids (0 is padding) that an embedding
    layer of this width maps to vectors. In 2D token arrays trailing zeros
    are padding and are masked like the padding of a list. See
    :class:`sklstm.preprocessing.TextSequencer`.

vocab_size : int or None, default=None
    Number of token ids (ids run from 0 to ``vocab_size - 1``), with
    ``embedding_dim``. ``None`` reads it from the training data (largest id
    + 1); set it to the size of the whole vocabulary when cross-validating,
    so that an id seen in one fold only is known to every fold.

data_format : {"channels_last", "channels_first"}, default="channels_last"
    Layout of 3D ``X`` and of the arrays of a list. ``"channels_last"``:
    ``(n_samples, n_timesteps, n_features)`` (Keras, PyTorch ``batch_first``,
    tslearn). ``"channels_first"``: ``(n_samples, n_features, n_timesteps)``
    and list items ``(n_features, T_i)``, as aeon and sktime hold
    collections; X is transposed on the way in (predict too). 2D ``X`` is a
    batch of univariate sequences either way. A 3D ``X`` that looks
    transposed (one time step of many features, or far fewer steps than
    features) gets a warning naming this parameter.

patch_size : int, "auto" or None, default="auto"
    Read every ``patch_size`` consecutive time steps as one LSTM step of
    ``patch_size * n_features`` values (the patching of PatchTST: Nie et
    al., "A Time Series is Worth 64 Words", ICLR 2023), so long sequences
    become short ones. ``"auto"`` patches sequences longer than 100 steps
    into about 32 patches and leaves shorter ones alone; None (or 1) never
    patches. A last partial patch is zero-filled; a ragged sequence's length
    becomes its patch count. Not with ``return_sequences=True`` or token
    ids. The value used is ``patch_size_``.

patch_stride : int or None, default=None
    Steps between the starts of two patches; None is ``patch_size``
    (non-overlapping). A smaller stride makes patches overlap.

conv_branch : bool or "auto", default="auto"
    Add a fully convolutional branch beside the LSTM (LSTM-FCN: Karim et
    al., IEEE Access 2018; MLSTM-FCN for several features, Neural Networks
    2019): blocks of a 1D convolution over the raw time steps, batch
    normalization and ReLU (the FCN of Wang et al., IJCNN 2017), max
    pooling between blocks (``conv_pool_size``), then a global average over
    time (over each row's own steps for variable-length input),
    concatenated with the LSTM's summary before the head. ``"auto"`` uses
    it for numeric sequences of at least 64 steps (the longest training
    sequence), where it measured more accurate (user guide, "Accuracy
    against MiniRocket"; ``benchmarks/accuracy.py``). Not with
    ``return_sequences=True``, ``stateful=True`` or token ids (``"auto"``
    leaves it out there). The value used is ``conv_branch_``.

conv_filters : int or tuple of int, default=(64, 128, 64)
    Output channels of each convolution block (an int is one block).

conv_kernel_sizes : int or tuple of int, default=(8, 3, 3)
    Kernel width of each block, in the steps that block reads (raw time
    steps for the first, pooled steps after it); one per entry of
    ``conv_filters``. The FCN (Wang et al. 2017) uses ``(8, 5, 3)``; a
    second kernel of 3 was as accurate on the nine collections of
    ``benchmarks/accuracy.py`` with the branch (5 seeds: -0.005 to +0.032,
    mean +0.004) and its fits 2-13% faster on eight of them (Coffee 4%
    slower in that run): the second block is most of the branch's
    arithmetic.

conv_pool_size : int in [1, 2**20], tuple of int or "auto", default="auto"
    Max pooling over time between consecutive convolution blocks: each
    block after the first reads windows of steps of the previous one
    reduced to their maximum (Zheng et al., "Time Series Classification
    Using Multi-Channels Deep Convolutional Neural Networks", WAIM 2014), so
    the last block sees a long stretch of the series and costs a fraction
    of the first. An int pools every gap by that many steps; a tuple gives
    one window per gap (``len(conv_filters) - 1`` entries, each in
    [1, 2**20]). 1 is the plain FCN. ``"auto"`` pools by ``longest // 16``
    steps, between 1 and 4 (4 from 64 steps), and after the first block by
    at least ``ceil(longest / 64)``, so the second block reads at most 64
    steps (OSULeaf, 427 steps: ``(7, 4)``; ACSF1, 1460: ``(23, 4)``). On
    the UCR/UEA collections of ``benchmarks/accuracy.py`` pooling by 4 was
    as accurate as 8 or more, pooling 1.4-4 times faster and more accurate
    than none (OSULeaf: 0.82 unpooled, 0.93 pooled by 4, 0.95 with
    ``"auto"``), and the longer first window as accurate again in up to
    half the time, keeping the branch's cost from growing with the series'
    length (user guide, "Accuracy against MiniRocket"). The value used is
    ``conv_pool_size_``. With the branch, ``max_epochs="auto"`` trains for
    at least 400 optimizer steps (30-300 epochs) instead of 1000: the pooled
    branch needed no more.

conv_stride : int in [1, 2**20] or "auto", default="auto"
    Stride of the first convolution block: it computes its filters on one
    window in every ``conv_stride`` steps (windows of
    ``conv_kernel_sizes[0]`` steps, so with a stride up to the kernel width
    every step is still read), and its pooling then reduces those outputs.
    ``"auto"`` is 2 for sequences of 1000 steps or more when
    ``conv_pool_size`` is ``"auto"`` too (whose first window then halves:
    ACSF1, 1460 steps: stride 2, pooling ``(12, 4)``), 4 from 2000 steps, 8
    from 4000 (the first block reads 500 windows or more), never wider than
    the first kernel; else 1. PigCVP (2000 steps, kernels ``(8, 5, 3)``)
    scored 0.942 with 4 in 1.8x the LSTM alone's fit time, 0.938 with 2 in
    2.2x. The first
    block's full-length outputs took most of a training step on long
    series; on the three long collections of ``benchmarks/accuracy.py``
    (3 seeds, one run) the stride cut the fit time of PigCVP (2000 steps)
    2.1x and of PLAID (up to 1344; batches of 64 then) 1.6x, at test
    accuracies of 0.878 against 0.869 unstrided (PigCVP), 0.852 against
    0.867 (PLAID; now 0.872 against 0.874 in 9.9 against 11.6 s) and 0.857
    against 0.863 (ACSF1). The value used is ``conv_stride_``.

series_norm : bool or "auto", default="auto"
    Per-series (instance) normalization inside the network: each series is
    also standardized by its own mean and standard deviation, per feature
    and over its real steps. The convolutional branch reads this copy
    instead of the input; without the branch, the LSTM reads it beside the
    input (``2 * n_features`` values per step). Each series' mean (as
    ``sign(m) * log(1 + |m|)``) and the log of its standard deviation,
    standardized over the training series, join the head's inputs, so level
    and scale still count (reversible instance normalization keeps them for
    forecasting: Kim et al., ICLR 2022). It matters when the series' sizes
    differ widely, where a global scaler such as ``SequenceScaler`` leaves
    the small ones near zero. ``"auto"`` uses it in classifiers unless every
    training series already has the same mean and spread per feature (within
    5% of the typical spread: data shipped z-normalized, as most UCR
    collections are), where the copy would repeat the input; regressors
    leave it off (neutral on aeon's Covid3Month, slightly worse in the
    forecasting recipe: ``benchmarks/conv_regression.py``,
    ``benchmarks/forecast.py``). Test accuracy on the collections of
    ``benchmarks/accuracy.py`` that are not z-normalized: PLAID 0.51 ->
    0.87, PigCVP 0.36 -> 0.78, JapaneseVowels 0.96 -> 0.98, BasicMotions
    1.00 -> 1.00, PickupGestureWiimoteZ 0.87 -> 0.83 (user guide, "Accuracy
    against MiniRocket"). Not with ``return_sequences=True``,
    ``stateful=True`` or token ids (``"auto"`` leaves it out there). The
    value used is ``series_norm_``; with ``init_from``, ``"auto"`` follows
    the pretrained model, whose layers must read what they learned on.

asinh_view : bool or "auto", default="auto"
    Each step's features followed by their asinh view inside the network,
    ``(asinh((x - reference) / scale) - center) / spread`` per feature, so
    that every part (LSTM, convolutional branch, ``series_norm``) reads
    ``2 * n_features`` values per step. The inverse hyperbolic sine is
    linear near the reference and logarithmic beyond it (Burbidge, Magee
    and Robb, JASA 1988): where series differ in size by decades, it shows
    the ratios within each series (a baseline of 0.001 under bursts of 5)
    that any linear scaling flattens. Fitted on the training steps: the
    reference is the 5th percentile of the values (the zero of data that
    are sizes, wherever a scaler moved it), the scale the 10th percentile
    of the series' own standard deviations, the center and spread the
    view's mean and standard deviation. ``"auto"`` uses it in classifiers
    whose training series' standard deviations span two decades (90th
    percentile over 10th of 100 or more, in some feature): of the eleven
    collections of ``benchmarks/accuracy.py`` only PLAID (1.3e5; 0.867 ->
    0.901 over 5 seeds, MiniRocket 0.944); BasicMotions spans 19, the others
    at most 2. Regressors leave it off (Covid3Month, death counts spanning
    280: test RMSE 0.0435 -> 0.0472; ``benchmarks/conv_regression.py``).
    Not with token ids; ``"auto"`` leaves it out with
    ``return_sequences=True`` and ``stateful=True`` too.
    The value used is ``asinh_view_``; with ``init_from``, ``"auto"``
    follows the pretrained model, whose layers must read what they learned
    on.

gate_init : {"forget_bias", "chrono", "default"}, default="forget_bias"
    Initial LSTM gate biases. ``"forget_bias"``: forget-gate bias 1
    (Jozefowicz et al., ICML 2015), so cells keep their state early in
    training; ``"chrono"``: forget-gate biases ``log(U(1, T - 1))`` for the
    longest training sequence ``T`` (in LSTM steps) and input-gate biases
    their negatives (Tallec and Ollivier, ICLR 2018), for long memory;
    ``"default"``: PyTorch's uniform initialisation. Measured in
    ``benchmarks/long_sequences.py``.

optimizer : {"adam", "adamw", "sgd", "rmsprop"} or torch optimizer class, default="adam"
    Optimizer. A class is called as ``optimizer(params, lr=lr,
    weight_decay=weight_decay)``.

lr : float, default=5e-3
    Learning rate (the peak rate, under the default cosine schedule);
    search it on a log scale (1e-4 to 1e-1).

momentum : float, default=0.9
    Momentum for ``"sgd"`` and ``"rmsprop"``; ignored by the others.

weight_decay : float, default=0.0
    L2 penalty, applied by the optimizer (decoupled for ``"adamw"``) to
    weight matrices only, like ``l1``: biases and normalization scales are
    not shrunk.

l1 : float, default=0.0
    L1 penalty strength: ``l1 * sum(|w|)`` over weight matrices (not biases
    or normalization scales) is added to the training loss.

batch_size : int or "auto", default="auto"
    Samples per gradient step. ``"auto"`` adapts it to the training rows:
    the power of two nearest below ``n_train / 8``, between 8 and 64 (40
    rows: 8; 270 rows: 32; 600 rows or more: 64), so small data sets still
    get several steps per epoch; with the convolutional branch
    (``conv_branch_``) at most 32, which trained as fast per epoch and
    padded ragged batches less. A classifier with the branch
    (``conv_branch_``) takes at least the power of two at or above its
    number of classes (10 classes: 16), but less than half the training
    rows, so that an epoch still takes three steps or more (52 classes in
    104 rows: 32); ``max_epochs="auto"`` then keeps its optimizer steps,
    within twice the epochs the smaller batch would have had. The value
    used is ``batch_size_``. Larger batches run faster per epoch.

max_epochs : int or "auto", default="auto"
    Passes over the training data (fewer with early stopping). ``"auto"``
    trains for at least 1000 optimizer steps, within 50 to 300 epochs (40
    rows in batches of 8: 200 epochs; large data sets: 50), or with the
    convolutional branch (``conv_branch_``) at least 400 steps within 30
    to 300 epochs (counted at the batch for the training rows; a larger
    batch for many classes, see ``batch_size``, gets up to twice those
    epochs to take its 400 steps). The value used is ``max_epochs_``.

shuffle : bool, default=True
    Shuffle the training rows every epoch.

bucket_by_length : bool, default=False
    For variable-length sequences: within windows of 50 batches of the
    shuffled order, batch sequences of similar length together (batches
    still come in random order), so less padding is computed. Faster on
    data with very different lengths; batches are a little less random.
    With ``shuffle=False`` the rows are sorted by length within the same
    windows, in a fixed order.

lr_scheduler : {"auto", "plateau", "cosine", "step", "onecycle", "exponential"} \
or None, default="auto"
    Learning-rate schedule: ``"plateau"`` halves the rate after 5 epochs
    without improvement of the validation loss (training loss without
    early stopping); ``"cosine"`` anneals to 0 over ``max_epochs``;
    ``"step"`` divides by 10 every third of the epochs; ``"exponential"``
    multiplies by 0.95 every epoch; ``"onecycle"`` warms up to ``lr`` and
    anneals, stepping every batch; None keeps ``lr``. ``"auto"`` is
    ``"cosine"`` for ``fit`` and None for ``partial_fit`` (whose calls have
    no end to anneal towards); the schedule used is ``lr_scheduler_``. The
    rate of each epoch is recorded in ``history_`` under ``"lr"``.

lr_scheduler_params : dict or None, default=None
    Keyword arguments overriding the scheduler's defaults, passed to the
    torch scheduler (e.g. ``{"gamma": 0.5}``).

gradient_clip : float or None, default=1.0
    Clip the global gradient norm to this value before each step (None:
    no clipping). Clipping keeps the occasional exploding LSTM gradient
    from undoing training.

gradient_clip_value : float or None, default=None
    Clip each gradient element to ``[-value, value]`` before each step.

early_stopping : bool, default=False
    Hold out ``validation_fraction`` of the training data, stop when its
    loss has not improved by ``tol`` for ``n_iter_no_change`` epochs, and
    restore the weights of the best epoch. The split is made inside each
    ``fit``, so it works inside any cross-validation. ``partial_fit`` trains
    one epoch per call on all the rows it is given: early stopping is off
    there (as in scikit-learn's MLP); watch a held-out score yourself.

validation_fraction : float, default=0.1
    Share of the training data held out for early stopping.

validation_split : {"auto", "last", "random", "stratified"}, default="auto"
    How the early-stopping rows are chosen: ``"last"`` takes the final rows
    in their order (for time-ordered data: no look-ahead), ``"random"`` a
    random subset, ``"stratified"`` a subset keeping class proportions.
    ``"auto"`` is stratified for classifiers and random for regressors.

n_iter_no_change : int, default=10
    Early-stopping patience in epochs.

tol : float, default=1e-4
    Smallest validation-loss decrease that counts as an improvement.

callbacks : list of skorch callbacks or None, default=None
    Extra skorch callbacks (any of ``skorch.callbacks``: scoring,
    checkpoints, progress bars, schedulers, TensorBoard...); each ``fit``
    works on its own deep copy (a callback that cannot be copied, such as
    one holding a ``SummaryWriter``, is used as it is). Batches reach them
    in skorch's ``(X, y)`` form, ``X`` being a dict with ``"x"`` (the
    padded inputs) and, when present, ``"lengths"`` and
    ``"sample_weight"``; ``net_.predict`` gives class indices, or
    regression outputs on the scaled target's units.

tensorboard_dir : str or None, default=None
    Write the per-epoch scalars of ``history_`` (losses, validation score,
    learning rate, epoch time) to a new run folder under this directory, for
    TensorBoard (needs ``pip install "tensorboard>=2.14"``).

epoch_cache : str or None, default=None
    A directory where each fit stores its state, keyed by the parameters
    other than ``max_epochs`` and by the training data. A later fit with the
    same key and more epochs starts from the longest stored shorter fit and
    trains only the missing epochs: halving searches with
    ``resource="max_epochs"`` and validation curves over ``max_epochs`` stop
    retraining earlier rungs. The key covers everything that decides the
    result (parameters, data, labels, target scale, ``init_from``'s weights,
    the batch size used), and ``max_epochs`` too when the learning-rate
    schedule spans it, so a
    resumed fit equals a fit from scratch. Not used with ``early_stopping``.
    Entries are sklstm model files (never pickles), written atomically; the
    directory is created and checked for writing before training. Point it
    at a directory you own: an entry planted there could be loaded.

device : {"cpu", "cuda", "auto"} or str, default="cpu"
    Where to train; ``"auto"`` picks CUDA when available.

n_threads : int or None, default=None
    Torch intra-op threads during ``fit`` and ``predict``, restored
    afterwards (at most 1024). ``None`` uses 1 thread for small models
    (where a second thread costs more than it gives) and the current
    setting otherwise.

random_state : int, RandomState instance or None, default=None
    Seeds weight initialization, dropout, shuffling and the validation
    split. The caller's global torch and numpy RNG states are left as they
    were (``None`` draws the seed from numpy's global RNG).

verbose : int, default=0
    ``0`` is silent; ``1`` prints skorch's table of per-epoch losses (the
    last epoch included when early stopping ends training); ``2`` adds a
    per-batch progress bar (skorch's ``ProgressBar``) for long epochs. All
    of it goes to standard error.

warm_start : bool, default=False
    Keep the fitted weights and continue training on the next ``fit``.
    Parameters changed with ``set_params`` since the last fit take effect
    (``lr``, ``optimizer``, ``weight_decay``, ``momentum``, ``l1``,
    ``dropout``, ``batch_size``, clipping, callbacks, early stopping); the
    optimizer state is kept unless the optimizer changes (or
    ``weight_decay`` turns from 0 to positive or back, which regroups the
    parameters). A warm-started
    ``fit`` runs a new learning-rate schedule of ``max_epochs`` epochs from
    ``lr``; under ``partial_fit`` the schedule carries on unless its
    settings change (N calls follow the schedule of one fit of N epochs,
    holding the final rate past ``max_epochs``); a schedule that does not
    carry on restarts the rate at ``lr`` (``partial_fit`` after a ``fit``
    with ``lr_scheduler="auto"`` trains at ``lr``, not at the cosine's
    final rate of 0). Changing an architecture parameter
    (``hidden_size``, ``num_layers``, ``bidirectional``, ``head_units``,
    ``head_activation``, ``norm``, ``return_sequences``, ``embedding_dim``)
    raises a ``ValueError``: refit with ``warm_start=False``.

init_from : fitted sklstm estimator, path or None, default=None
    Transfer learning: start from the LSTM (and embedding) weights of this
    fitted estimator (or of a file written by its ``save``), with a fresh
    head sized for the new targets (any number of classes or outputs). The
    architecture (``hidden_size``, ``num_layers``, ``bidirectional``,
    ``embedding_dim``, input features) must match. When both models have
    the convolutional branch (``conv_branch_``), it is transferred too,
    batch normalization's running statistics included: ``conv_filters``,
    ``conv_kernel_sizes``, the pooling (``conv_pool_size_``) and the first
    block's stride (``conv_stride_``) must match;
    a branch only the new model has trains from scratch. Clones share the source
    model (read-only: ``get_params`` does not expose its parameters), so
    searches start every candidate from it.

freeze : bool or int, default=False
    With ``init_from``: ``True`` keeps the pretrained layers fixed for the
    whole fit (only the head trains); an int ``k`` keeps them fixed for the
    first ``k`` epochs, then fine-tunes everything. Without ``init_from``
    it raises a ``ValueError`` (there is nothing pretrained to keep), as it
    does for a convolutional branch the source lacks. A frozen branch's
    batch normalization still updates its running statistics on the new
    data (its weights stay fixed).
"""

SHARED_ATTRIBUTES = """\
n_features_in_ : int
    For 3D or ragged ``X``, the number of features per time step. For 2D
    ``X`` (univariate sequences) scikit-learn's convention applies: the
    number of columns, i.e. of time steps.

feature_names_in_ : ndarray of shape (n_features_in_,)
    Column names, when ``X`` was a DataFrame with string column names.

input_size_ : int
    Features per time step fed to the LSTM (1 for 2D ``X``).

n_timesteps_in_ : int or None
    Sequence length seen in ``fit`` (``None`` for variable-length ``X``).

net_ : sklstm._engine._net.SequenceNet
    The fitted skorch net; ``net_.module_`` is the torch module.

history_ : skorch.History
    Per-epoch records: ``train_loss``, ``valid_loss`` (with early stopping)
    and their ``*_best`` flags, ``lr``, ``dur`` (seconds), the batch rows
    (``batches``: loss and size of each batch), and what callbacks record.

loss_curve_ : list of float
    Training loss of every epoch.

validation_loss_curve_ : list of float or None
    Validation loss of every epoch of the last fit, with early stopping.

validation_scores_ : list of float or None
    Validation score of every epoch of the last fit, with early stopping
    (accuracy for the classifier, R² for the regressor).

best_validation_score_ : float or None
    Validation score of the epoch whose weights the model holds.

n_iter_ : int
    Epochs run by the last ``fit``.

batch_size_, max_epochs_ : int
    The batch size and epoch count the last fit used (``"auto"`` resolved
    from the number of training rows).

lr_scheduler_ : str or None
    The learning-rate schedule the last fit used (``"auto"`` resolved).

patch_size_, patch_stride_ : int
    The patching used (1: none; ``"auto"`` resolved from the longest
    training sequence).

conv_branch_ : bool
    Whether the network has the convolutional branch (``conv_branch``
    resolved on the training data).

conv_pool_size_ : tuple of int
    The pooling after each convolution block but the last (``conv_pool_size``
    resolved: ``len(conv_filters) - 1`` windows, in steps; ``()`` without
    the branch).

conv_stride_ : int
    The first convolution block's stride (``conv_stride`` resolved; 1
    without the branch).

series_norm_ : bool
    Whether the network normalizes each series itself (``series_norm``
    resolved on the training data).

asinh_view_ : bool
    Whether the network reads each feature's asinh view beside it
    (``asinh_view`` resolved on the training data).

lstm_steps_ : int
    The longest training sequence in LSTM steps (patches, with patching).

best_epoch_ : int
    Epoch whose weights the model holds (the best one with early stopping).

n_parameters_ : int
    Number of trainable and frozen parameters of the network.

device_ : str
    Device the model was trained on.
"""
