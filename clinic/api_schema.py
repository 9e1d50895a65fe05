"""What drf-spectacular cannot see in the views: the error answers every API operation can give."""

PROBLEM = {
    "type": "object",
    "description": "A refusal in plain words; `code` says which rule refused (absent on 403 and 404, but "
    "`merged` for a client whose record was merged into another: the detail names it).",
    "properties": {"code": {"type": "string"}, "detail": {"type": "string"}},
    "required": ["detail"],
}
FIELD_ERRORS = {
    "type": "object",
    "description": "What is wrong with each field of the request, by field name.",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}
# Methods whose request has a body, which can be refused (400) or be of a type not read (415).
WITH_BODY = {"post", "put", "patch"}
# Query parameters that never refuse a request: a bad one falls back to its default.
FORGIVING_QUERY = {"limit", "offset"}


def _answer(description: str, *schemas: str) -> dict:
    refs = [{"$ref": f"#/components/schemas/{name}"} for name in schemas]
    schema = refs[0] if len(refs) == 1 else {"oneOf": refs}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


BAD_REQUEST = _answer("The request has a mistake, or a rule refused it.", "FieldErrors", "Problem")
FORBIDDEN = _answer("Not signed in as staff of a clinic, or not allowed to do this.", "Problem")
NOT_FOUND = _answer("No such record in this clinic.", "Problem")
UNSUPPORTED = _answer("The body is not JSON, a form or multipart form data.", "Problem")


def _can_be_refused(method: str, operation: dict) -> bool:
    """Tell whether the caller's input can make the operation answer 400 (a body; a checked query)."""
    query = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
    return method in WITH_BODY or bool(query - FORGIVING_QUERY)


def document_error_responses(result, generator, request, public):
    """Add the 400, 403, 404 and 415 answers to each operation that can give one and does not say so."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Problem", PROBLEM)
    schemas.setdefault("FieldErrors", FIELD_ERRORS)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if _can_be_refused(method, operation):
                responses.setdefault("400", BAD_REQUEST)
            responses.setdefault("403", FORBIDDEN)
            if "{" in path:
                responses.setdefault("404", NOT_FOUND)
            if method in WITH_BODY:
                responses.setdefault("415", UNSUPPORTED)
    return result
