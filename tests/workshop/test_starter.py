"""The starter tool blanks exactly the named function: signature, decorators and docstring stay,
everything else in the file is left byte for byte, and a name that is gone fails loudly."""

from __future__ import annotations

import ast

import pytest

from workshop.starter import StarterError, blank_function

SOURCE = '''"""A module."""

import math


def kept(x):
    return x + 1  # untouched


class Gate:
    """A class."""

    @staticmethod
    def decide(
        value: float,  # a comment in the signature
        floor: float = 1e-4,
    ) -> bool:
        """Whether `value` passes.

        More lines of docstring.
        """
        # why: the comment goes with the body
        clipped = max(value, floor)

        return math.log(clipped) < 0

    async def later(self):
        # no docstring here
        return 2


def outer():
    def inner():
        return 3

    return inner
'''


def _blank(qualname: str) -> str:
    return blank_function(SOURCE, qualname, "ex-1: see exercises/ex-1/README.md")


def test_a_method_keeps_its_decorator_signature_and_docstring_and_loses_its_body():
    blanked = _blank("Gate.decide")
    assert (
        '        """Whether `value` passes.\n\n        More lines of docstring.\n        """\n'
        in (blanked)
    )
    assert "value: float,  # a comment in the signature" in blanked
    assert "@staticmethod" in blanked
    assert "clipped" not in blanked and "the comment goes with the body" not in blanked
    assert '        raise NotImplementedError("ex-1: see exercises/ex-1/README.md")\n' in blanked
    ast.parse(blanked)  # still Python


def test_everything_but_the_blanked_body_is_unchanged():
    blanked = _blank("Gate.decide")
    before, after = (
        SOURCE.split("        # why")[0],
        SOURCE.split("return math.log(clipped) < 0")[1],
    )
    assert blanked.startswith(before)
    assert blanked.endswith(after)


def test_a_function_without_docstring_loses_its_comments_too():
    blanked = _blank("Gate.later")
    assert "    async def later(self):\n        raise NotImplementedError(" in blanked
    assert "no docstring here" not in blanked


def test_nested_functions_are_reached_by_their_qualified_name():
    blanked = _blank("outer.inner")
    assert "return 3" not in blanked and "return inner" in blanked


def test_the_blanked_function_raises_with_the_exercise_readme():
    namespace: dict = {}
    exec(compile(_blank("kept"), "<blanked>", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="see exercises/ex-1/README.md"):
        namespace["kept"](1)


@pytest.mark.parametrize("qualname", ["gone", "Gate.gone", "Gate", "kept.inner", "math"])
def test_a_name_that_is_not_a_function_fails_loudly(qualname: str):
    with pytest.raises(StarterError, match="does not exist"):
        blank_function(SOURCE, qualname, "m", where="module.py")


def test_a_one_line_function_is_refused():
    with pytest.raises(StarterError, match="one-line"):
        blank_function("def f(): return 1\n", "f", "m")
