"""Helpers for Meridian's checkov checks: checkov hands each attribute as a one-element list."""


def first(conf, key, default=None):
    """The attribute's value (checkov wraps values in a list), or default when absent."""
    value = conf.get(key, default)
    if isinstance(value, list):
        return value[0] if value else default
    return value


def blocks(conf, key):
    """The nested blocks named key (a list of dicts), however checkov rendered them."""
    value = conf.get(key) or []
    if isinstance(value, dict):
        return [value]
    out = []
    for item in value:
        if isinstance(item, list):
            out.extend(i for i in item if isinstance(i, dict))
        elif isinstance(item, dict):
            out.append(item)
    return out


def strings(value):
    """A flat list of strings from a rendered list attribute."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    out = []
    for v in value:
        out.extend(strings(v) if isinstance(v, list) else [v])
    return [v for v in out if isinstance(v, str)]


def is_set(conf, key):
    value = first(conf, key)
    return value not in (None, "", [], "null")
