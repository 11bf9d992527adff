"""Losses of the sync expert and of a model it judges.

The expert learns by multi-way matching: each speech window must pick its own mouth window
among the same clip's mouth shifted by ``-S .. S`` frames and the other clips' mouths at the
same moment (a softmax over those candidates). Shifted windows of the same clip are the hard
negatives that make the offset measurable; other clips keep the embedding about speech, not
about who is speaking.
"""

from __future__ import annotations

from keras import ops


def shift_similarities(speech, mouth, max_shift: int):
    """Cosine similarities of each speech window with the mouth shifted by ``-S .. S``.

    Args:
        speech: ``(B, N, D)`` unit embeddings.
        mouth: ``(B, N, D)`` unit embeddings of the same frames.
        max_shift: ``S``; anchors are the ``N - 2S`` windows with every shift inside.

    Returns:
        ``(B, N - 2S, 2S + 1)``; index ``S`` is the aligned pair.
    """
    s = int(max_shift)
    n = ops.shape(speech)[1]
    anchors = speech[:, s:n - s]
    return ops.stack([ops.sum(anchors * mouth[:, s + k:n - s + k], axis=-1)
                      for k in range(-s, s + 1)], axis=-1)


def matching_logits(speech, mouth, max_shift: int, scale, other_clips: bool = True):
    """The logits of :func:`matching_loss`: ``(B, A, 2S + 1 [+ B])``, the aligned pair at
    index ``S``; with ``other_clips``, the other clips' mouths at the anchor's moment follow
    (the clip's own is masked)."""
    s = int(max_shift)
    logits = shift_similarities(speech, mouth, s)
    if other_clips:
        n = ops.shape(speech)[1]
        anchors, same_time = speech[:, s:n - s], mouth[:, s:n - s]
        cross = ops.einsum("bad,cad->bac", anchors, same_time)
        batch = ops.shape(speech)[0]
        own = ops.eye(batch)[:, None, :]
        logits = ops.concatenate([logits, cross - 4.0 * own], axis=-1)
    return logits * scale


def matching_loss(speech, mouth, max_shift: int, scale, other_clips: bool = True):
    """Cross-entropy of picking the aligned mouth window among the shifted and other-clip ones.

    Args:
        speech, mouth: ``(B, N, D)`` unit embeddings of the same frames.
        max_shift: the shifts ``-S .. S`` that compete with the aligned pair.
        scale: the logit scale (cosine similarity times this).
        other_clips: add the other clips' mouths as negatives.

    Returns:
        ``(B, N - 2S)`` per-anchor losses.
    """
    logits = matching_logits(speech, mouth, max_shift, scale, other_clips)
    aligned = logits[..., int(max_shift)]
    return ops.logsumexp(logits, axis=-1) - aligned


def shift_accuracy(speech, mouth, max_shift: int, tolerance: int = 0):
    """Share of speech windows whose most similar shifted mouth window is within
    ``tolerance`` frames of the aligned one."""
    best = ops.argmax(shift_similarities(speech, mouth, max_shift), axis=-1)
    return ops.mean(ops.cast(ops.abs(best - int(max_shift)) <= tolerance, "float32"))
