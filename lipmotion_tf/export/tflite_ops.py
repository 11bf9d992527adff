"""The operators a TFLite model uses, read from its flatbuffer, and the builtin-only check.

A model that needs a Flex (``Flex...``) or other custom operator does not run in the plain
TFLite / LiteRT runtimes of apps, so every exported model is checked with
:func:`check_builtin_ops` before it is written.
"""

from __future__ import annotations

from lipmotion_tf.errors import InputError


def tflite_op_names(model_content: bytes) -> list[str]:
    """Sorted names of every operator code in the model (all subgraphs).

    Builtin operators by their schema name (``CONV_2D``); custom ones as ``CUSTOM:<code>``
    (for example ``CUSTOM:FlexEnsureShape``).
    """
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(bytearray(model_content), 0)
    names_by_code = {
        value: name for name, value in vars(schema.BuiltinOperator).items()
        if not name.startswith("_")
    }
    names = set()
    for index in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(index)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == schema.BuiltinOperator.CUSTOM:
            custom = code.CustomCode()
            names.add(f"CUSTOM:{custom.decode() if custom else '?'}")
        else:
            names.add(names_by_code.get(builtin, f"BUILTIN_{builtin}"))
    return sorted(names)


def check_builtin_ops(model_content: bytes, what: str = "the model") -> list[str]:
    """Returns the model's operator names; raises if any is not a TFLite builtin.

    Raises:
        InputError: the model needs custom or Flex operators.
    """
    names = tflite_op_names(model_content)
    custom = [name for name in names if name.startswith("CUSTOM:")]
    if custom:
        raise InputError(f"{what} needs operators outside the TFLite builtins: {', '.join(custom)}")
    return names
