"""Several optimizers presented to ``keras.Model.fit`` as one.

The GAN updates four groups of weights with four Adam optimizers (generator, discriminator,
correlation encoders, FlowNet). Keras' JAX trainer threads the state of ``model.optimizer``
through its stateless train step, so that one object must expose every optimizer variable;
this group does, in a fixed order, and lets the train step split the flat list back per
member (:meth:`split`, :meth:`merge`). Under TensorFlow the members are used directly.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="lipmotion")
class OptimizerGroup(keras.optimizers.Optimizer):
    """Named optimizers, each built on its own variables, seen by Keras as one optimizer.

    Args:
        optimizers: mapping ``name -> keras.optimizers.Optimizer`` (order is kept).
        name: optimizer name.

    The group itself never applies gradients: call a member's ``apply`` /
    ``stateless_apply``. :attr:`variables` lists the group's own two bookkeeping variables
    followed by each member's variables, in member order; member state is saved by the
    members themselves (they are attributes of the group).
    """

    def __init__(self, optimizers, name="optimizer_group", **kwargs):
        super().__init__(learning_rate=0.0, name=name, **kwargs)
        if not optimizers:
            raise ValueError("an OptimizerGroup needs at least one optimizer")
        self.member_names = tuple(optimizers)
        # Each member is an attribute so that weight files store it under its own name.
        for member_name, optimizer in optimizers.items():
            if not isinstance(optimizer, keras.optimizers.Optimizer):
                raise TypeError(f"optimizer '{member_name}' is not a keras optimizer")
            setattr(self, f"member_{member_name}", optimizer)

    def member(self, name: str) -> keras.optimizers.Optimizer:
        """The member optimizer called ``name``."""
        if name not in self.member_names:
            raise KeyError(f"no optimizer '{name}' in group ({', '.join(self.member_names)})")
        return getattr(self, f"member_{name}")

    def members(self) -> dict:
        """``{name: optimizer}`` in member order."""
        return {name: self.member(name) for name in self.member_names}

    def build_members(self, variables_by_member: dict) -> None:
        """Builds each member on its own variables, then the group."""
        for name, variables in variables_by_member.items():
            optimizer = self.member(name)
            if not optimizer.built:
                optimizer.build(list(variables))
        self.build([])

    def build(self, variables):
        # Keras may call build(model.trainable_variables) on an unbuilt optimizer (for
        # example when restoring a backup); members are built by build_members.
        super().build([])

    @property
    def variables(self):
        own = self._variables[:]
        for name in self.member_names:
            own.extend(self.member(name).variables)
        return own

    @property
    def iterations(self):
        # The first member's step count is the training step (the generator's by convention).
        return self.member(self.member_names[0]).iterations

    def split(self, values) -> dict:
        """Splits a flat list ordered like :attr:`variables` into ``{member: [values]}``."""
        values = list(values)
        offset = len(self._variables)
        parts = {}
        for name in self.member_names:
            count = len(self.member(name).variables)
            parts[name] = values[offset: offset + count]
            offset += count
        if offset != len(values):
            raise ValueError(f"expected {offset} optimizer values, got {len(values)}")
        return parts

    def merge(self, own_values, parts: dict) -> list:
        """Inverse of :meth:`split`: the group's own values then each member's."""
        merged = list(own_values)
        for name in self.member_names:
            merged.extend(parts[name])
        return merged

    def own_values(self, values) -> list:
        """The group's own entries of a flat list ordered like :attr:`variables`."""
        return list(values)[: len(self._variables)]

    def apply(self, grads, trainable_variables=None):
        raise NotImplementedError("apply gradients through a member optimizer: group.member(name)")

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        raise NotImplementedError("apply gradients through a member optimizer: group.member(name)")

    def finalize_variable_values(self, var_list):
        for optimizer in self.members().values():
            optimizer.finalize_variable_values(optimizer._trainable_variables)

    def save_own_variables(self, store):
        for i, variable in enumerate(self._variables):
            store[str(i)] = variable.numpy()

    def load_own_variables(self, store):
        for i, variable in enumerate(self._variables):
            if str(i) in store:
                variable.assign(store[str(i)])

    def get_config(self):
        return {
            "name": self.name,
            "optimizers": {
                name: keras.saving.serialize_keras_object(optimizer)
                for name, optimizer in self.members().items()
            },
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        optimizers = {
            name: keras.saving.deserialize_keras_object(value, custom_objects=custom_objects)
            for name, value in config.pop("optimizers").items()
        }
        return cls(optimizers, **config)
