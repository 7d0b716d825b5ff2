import pytest

from bfrbench.errors import ConfigError, RegistryError
from bfrbench.registry import Registry


class Base:
    name = ""


class Alpha(Base):
    name = "alpha"


class Other:
    name = "other"


def test_register_get_and_near_match_suggestion():
    reg: Registry[type[Base]] = Registry("widget", Base)
    reg.register(target=Alpha)
    reg.register("beta", "bfrbench.methods._base:Restorer")  # lazy target, checked on first use
    assert reg.get("alpha") is Alpha
    assert reg.names() == ["alpha", "beta"]
    with pytest.raises(ConfigError, match="not a subclass"):
        reg.get("beta")
    lazy: Registry[type[object]] = Registry("thing")
    lazy.register("od", "collections:OrderedDict")
    from collections import OrderedDict

    assert lazy.get("od") is OrderedDict
    with pytest.raises(RegistryError) as exc:
        reg.get("alpah")
    assert "did you mean 'alpha'" in str(exc.value)
    assert isinstance(exc.value, KeyError)


def test_duplicates_and_wrong_base_are_refused():
    reg: Registry[type[Base]] = Registry("widget", Base)
    reg.register(target=Alpha)

    class Alpha2(Base):
        name = "alpha"

    with pytest.raises(ConfigError, match="already registered"):
        reg.register(target=Alpha2)
    with pytest.raises(ConfigError, match="not a subclass"):
        reg.register(target=Other)


def test_decorator_form_and_create():
    reg: Registry[type[Base]] = Registry("widget", Base)

    @reg.register()
    class Gamma(Base):
        name = "gamma"

        def __init__(self, x: int = 1) -> None:
            self.x = x

    assert reg.create("gamma", x=5).x == 5
    assert "gamma" in reg and len(reg) == 1
