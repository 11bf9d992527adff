"""The GAN's train step under TensorFlow: gradients from ``tf.GradientTape``."""

from __future__ import annotations

from lipmotion_tf.train import losses as L


def tf_train_step(gan, data):
    """One discriminator update, then one generator (and correlation, FlowNet) update, with
    ``tf.GradientTape``; returns the logs."""
    import tensorflow as tf

    def for_gradient(loss, optimizer):
        return optimizer.scale_loss(L.scale_for_replicas(loss))

    positions = gan.group_positions()
    variables = gan.trainable_variables

    def group_vars(name):
        return [variables[i] for i in positions[name]]

    d_optimizer = gan.optimizer.member("discriminator")
    with tf.GradientTape() as tape:
        d_values = gan.discriminator_losses(data, training=True)
        d_target = for_gradient(d_values["d_loss"], d_optimizer)
    if gan.adversarial:
        d_vars = group_vars("discriminator")
        d_optimizer.apply_gradients(zip(tape.gradient(d_target, d_vars), d_vars))

    plan = gan.gradient_plan()
    with tf.GradientTape(persistent=len(plan) > 1) as tape:
        g_values = gan.generator_losses(data, training=True)
        targets = [
            for_gradient(g_values[objective], gan.optimizer.member(groups[0]))
            for objective, groups in plan
        ]
    for target, (_, groups) in zip(targets, plan):
        sources = [group_vars(g) for g in groups]
        grads = tape.gradient(target, sources)
        for name, group_sources, group_grads in zip(groups, sources, grads):
            if group_sources:
                gan.optimizer.member(name).apply_gradients(zip(group_grads, group_sources))
    del tape
    return gan.update_metrics({**d_values, **g_values})
