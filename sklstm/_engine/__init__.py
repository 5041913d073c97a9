"""Everything torch and skorch: the module, losses, the net, the one
parameter-to-net mapping, callbacks and the runtime (seeding, device, threads).

Imports no estimator, file format or search.
"""
