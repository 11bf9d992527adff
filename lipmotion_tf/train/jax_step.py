"""The GAN's train and test steps under JAX: ``jax.vjp`` and ``stateless_apply``.

The same loss code as under TensorFlow runs inside a ``keras.StatelessScope`` that maps every
model variable to a traced value, the way ``keras.Layer.stateless_call`` does.
"""

from __future__ import annotations

import keras
from keras import ops


def _scope(gan, trainable, non_trainable, optimizer_values=None):
    mapping = list(zip(gan.trainable_variables, trainable))
    mapping += list(zip(gan.non_trainable_variables, non_trainable))
    if optimizer_values is not None:
        mapping += list(zip(gan.optimizer.variables, optimizer_values))
    return keras.StatelessScope(state_mapping=mapping)


def _collect(scope, variables):
    return [scope.get_current_value(v) for v in variables]


def jax_train_step(gan, state, data):
    """One discriminator then one generator update as pure functions of the state
    ``(trainable, non_trainable, optimizer, metrics)``; returns ``(logs, state)``."""
    import jax

    trainable, non_trainable, optimizer_values, metrics_values = state
    trainable = list(trainable)
    positions = gan.group_positions()
    group = gan.optimizer
    opt_parts = group.split(optimizer_values)

    def with_group(values, name, group_values):
        values = list(values)
        for i, v in zip(positions[name], group_values):
            values[i] = v
        return values

    # Discriminator step.
    d_opt = group.member("discriminator")

    def d_objective(d_values, non_trainable):
        values = with_group(trainable, "discriminator", d_values)
        with _scope(gan, values, non_trainable, optimizer_values) as scope:
            losses = gan.discriminator_losses(data, training=True)
            target = d_opt.scale_loss(losses["d_loss"])
        return target, (losses, _collect(scope, gan.non_trainable_variables))

    if gan.adversarial:
        d_values = [trainable[i] for i in positions["discriminator"]]
        (_, (d_losses, non_trainable)), d_grads = jax.value_and_grad(
            d_objective, has_aux=True
        )(d_values, non_trainable)
        d_values, opt_parts["discriminator"] = d_opt.stateless_apply(
            opt_parts["discriminator"], d_grads, d_values
        )
        trainable = with_group(trainable, "discriminator", d_values)
    else:
        d_losses = gan.discriminator_losses(data, training=True)

    # Generator step (and the correlation networks).
    plan = gan.gradient_plan()
    groups = [name for _, names in plan for name in names]

    def g_objectives(group_values):
        values = trainable
        for name, v in zip(groups, group_values):
            values = with_group(values, name, v)
        with _scope(gan, values, non_trainable, optimizer_values) as scope:
            losses = gan.generator_losses(data, training=True)
            targets = tuple(
                group.member(names[0]).scale_loss(losses[objective])
                for objective, names in plan
            )
        return targets, (losses, _collect(scope, gan.non_trainable_variables))

    group_values = [[trainable[i] for i in positions[name]] for name in groups]
    targets, pullback, (g_losses, non_trainable) = jax.vjp(
        g_objectives, group_values, has_aux=True
    )
    grads_by_group = {}
    for k, (objective, names) in enumerate(plan):
        cotangent = tuple(
            ops.ones_like(t) if j == k else ops.zeros_like(t) for j, t in enumerate(targets)
        )
        (all_grads,) = pullback(cotangent)
        for name in names:
            grads_by_group[name] = all_grads[groups.index(name)]
    for name, grads in grads_by_group.items():
        if not positions[name]:
            continue
        current = [trainable[i] for i in positions[name]]
        new_values, opt_parts[name] = group.member(name).stateless_apply(
            opt_parts[name], grads, current
        )
        trainable = with_group(trainable, name, new_values)

    optimizer_values = group.merge(group.own_values(optimizer_values), opt_parts)
    logs, metrics_values = _update_metrics(gan, metrics_values, {**d_losses, **g_losses})
    return logs, (trainable, non_trainable, optimizer_values, metrics_values)


def _update_metrics(gan, metrics_values, values):
    mapping = list(zip(gan.metrics_variables, metrics_values))
    with keras.StatelessScope(state_mapping=mapping) as scope:
        logs = gan.update_metrics(values)
    new_values = []
    for ref, value in zip(gan.metrics_variables, metrics_values):
        current = scope.get_current_value(ref)
        new_values.append(value if current is None else current)
    return logs, new_values


def jax_test_step(gan, state, data):
    """The logged losses without any update; returns ``(logs, state)``."""
    trainable, non_trainable, metrics_values = state
    with _scope(gan, trainable, non_trainable) as scope:
        values = gan.compute_losses(data, training=False)
    non_trainable = _collect(scope, gan.non_trainable_variables)
    logs, metrics_values = _update_metrics(gan, metrics_values, values)
    return logs, (trainable, non_trainable, metrics_values)
