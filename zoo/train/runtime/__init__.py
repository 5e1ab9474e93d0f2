"""Where and how a training process runs: the device and its precision (:mod:`.device`), the
process group of a DDP run (:mod:`.distributed`), and the signals that stop it (:mod:`.signals`)."""
