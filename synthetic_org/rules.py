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

# Objects a query must read through their parents: the id fields an "=" or "IN" filter must name.
# ContentDocumentLink: "You can't run a query without filters against ContentDocumentLink" and
# "You can only filter on ContentDocument fields if you're filtering by LinkedEntityId" (Object
# Reference, ContentDocumentLink, Usage; a user with Query All Files, API 59.0+, is exempt, this
# org's integration user is not). The messages are the API's, as Salesforce clients quote them
# (MALFORMED_QUERY from REST; Data Loader's Bulk log: "Failed to process query: MALFORMED_QUERY:
# Implementation restriction: ContentDocumentLink requires a filter by a single Id ...").
PARENT_FILTERS: dict[str, tuple[str, ...]] = {
    "ContentDocumentLink": ("ContentDocumentId", "LinkedEntityId", "Id"),
}
_PARENT_FILTER_REQUIRED = (
    "Implementation restriction: ContentDocumentLink requires a filter by a single Id on "
    "ContentDocumentId or LinkedEntityId using the equals operator or multiple Id's using the IN "
    "operator."
)
_ONLY_WITH_LINKED_ENTITY = (
    "Implementation restriction: filtering on non-id fields is only permitted when filtering by "
    "ContentDocumentLink.LinkedEntityId using the equals operator."
)


def check_rest_query(spec: ObjectSpec, query: Query) -> None:
    """Raise the error a real org answers for a query this object refuses."""
    required = REQUIRED_FILTERS.get(spec.name)
    if required:
        _check_setup_entity(spec, query, required)
    check_parent_filter(spec, query)
    index = BIG_OBJECT_INDEXES.get(spec.name)
    if index:
        _check_big_object(spec, query, index)


def check_parent_filter(spec: ObjectSpec, query: Query) -> None:
    """ContentDocumentLink: an AND-ed ``=`` or ``IN`` on the document, the linked record or the
    link's Id; any other filter only beside ``LinkedEntityId = '...'`` (REST and Bulk alike)."""
    parents = PARENT_FILTERS.get(spec.name)
    if not parents:
        return
    wanted = {name.lower() for name in parents}
    terms = _conjuncts(query.where)
    if not any(
        term.field.text.lower() in wanted
        and (
            (isinstance(term, Comparison) and term.op == "=")
            or (isinstance(term, InList) and not term.negated)
        )
        for term in terms
        if isinstance(term, (Comparison, InList))
    ):
        raise SoqlError("MALFORMED_QUERY", _PARENT_FILTER_REQUIRED)
    id_fields = {f.name.lower() for f in spec.fields if f.type in ("id", "reference")}
    others = [term for term in terms if _fields_of(term) - id_fields]
    linked_equals = any(
        isinstance(term, Comparison)
        and term.op == "="
        and term.field.text.lower() == "linkedentityid"
        for term in terms
    )
    if others and not linked_equals:
        raise SoqlError("MALFORMED_QUERY", _ONLY_WITH_LINKED_ENTITY)


def _fields_of(condition: Condition) -> set[str]:
    """Every field path a condition names, lowercased."""
    if isinstance(condition, BoolOp):
        return {name for operand in condition.operands for name in _fields_of(operand)}
    if isinstance(condition, Not):
        return _fields_of(condition.operand)
    return {condition.field.text.lower()}


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
