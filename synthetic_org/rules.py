"""Query rules some objects impose beyond plain SOQL, enforced as Salesforce enforces them.

Kept apart from the engine (which runs any valid query) so each rule reads as the documented
restriction it models, with the error code a real org answers.
"""

from __future__ import annotations

from .metadata import REQUIRED_FILTERS, ObjectSpec
from .soql.parser import BoolOp, Comparison, Condition, InList, Not, Query, SoqlError

# Big objects: the index a query must filter on, in this order (FieldHistoryArchive's index).
BIG_OBJECT_INDEXES: dict[str, tuple[str, ...]] = {
    "FieldHistoryArchive": ("FieldHistoryType", "ParentId", "CreatedDate"),
}


def check_rest_query(spec: ObjectSpec, query: Query) -> None:
    """Raise the error a real org answers for a query this object refuses."""
    required = REQUIRED_FILTERS.get(spec.name)
    if required:
        _check_setup_entity(spec, query, required)
    index = BIG_OBJECT_INDEXES.get(spec.name)
    if index:
        _check_big_object(spec, query, index)


def _check_big_object(spec: ObjectSpec, query: Query, index: tuple[str, ...]) -> None:
    """Big objects ("SOQL with Big Objects"): filters only on the index fields, in index order and
    without gaps; every field but the last with "=", the last with =, <, >, <=, >= or IN; no
    aggregates."""
    if query.is_count:
        raise SoqlError("MALFORMED_QUERY", f"Aggregate queries are not supported on {spec.name}")
    terms: list[Comparison | InList] = []
    for term in _conjuncts(query.where):
        if isinstance(term, (BoolOp, Not)) or (isinstance(term, InList) and term.negated):
            raise SoqlError("MALFORMED_QUERY", f"{spec.name}: unsupported filter operator")
        if isinstance(term, Comparison) and term.op in ("!=", "LIKE"):
            raise SoqlError(
                "MALFORMED_QUERY", f"{spec.name}: unsupported filter operator {term.op}"
            )
        terms.append(term)
    names = [term.field.text.lower() for term in terms]
    wanted = [name.lower() for name in index[: len(set(names))]]
    if sorted(set(names)) != sorted(wanted) or not names:
        raise SoqlError(
            "INVALID_QUERY_FILTER_OPERATOR",
            f"{spec.name}: filter on the index fields in order, without gaps: {', '.join(index)}",
        )
    last = wanted[-1]
    for term in terms:
        field = term.field.text.lower()
        if field != last and not (isinstance(term, Comparison) and term.op == "="):
            raise SoqlError(
                "INVALID_QUERY_FILTER_OPERATOR",
                f"{spec.name}: only = is allowed on {field}, an index field before the last one filtered",
            )


def _check_setup_entity(spec: ObjectSpec, query: Query, required: tuple[str, ...]) -> None:
    """FieldDefinition/EntityDefinition: one entity at a time, equality filters only.

    Documented in the Tooling API's "SOQL Operation Limitations": no COUNT(), OR, NOT; an
    unfiltered query fails with "a filter on a reified column is required".
    """
    if query.is_count:
        raise SoqlError(
            "MALFORMED_QUERY",
            "The requested operation is not yet supported by this SObject storage type, contact salesforce.com support for more information.",
        )
    equalities: list[Comparison] = []
    for node in _conjuncts(query.where):
        if isinstance(node, BoolOp):
            raise SoqlError("MALFORMED_QUERY", "Disjunctions not supported")
        if isinstance(node, (Not, InList)) or (isinstance(node, Comparison) and node.op != "="):
            raise SoqlError("MALFORMED_QUERY", "Only equals comparisons permitted")
        equalities.append(node)
    wanted = {name.lower() for name in required}
    if not any(c.field.text.lower() in wanted for c in equalities):
        raise SoqlError(
            "EXTERNAL_OBJECT_UNSUPPORTED_EXCEPTION",
            f"{spec.name}: a filter on a reified column is required.",
        )


def _conjuncts(where: Condition | None) -> list[Condition]:
    """The AND-ed terms of a WHERE clause (an OR stays one term)."""
    if where is None:
        return []
    if isinstance(where, BoolOp) and where.op == "AND":
        return [term for operand in where.operands for term in _conjuncts(operand)]
    return [where]
