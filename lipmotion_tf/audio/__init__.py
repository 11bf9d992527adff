"""Audio front end: decoding speech from any file and the log-mel spectrogram."""
