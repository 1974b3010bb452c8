"""Check the requests the sandbox receives against the providers' published spec data.

The spec files under ``specs/`` are the trimmed official API descriptions from
``shared/provider-apis`` (see specs/README.md for provenance). A request that does not
conform is answered the way the provider answers a bad request, and is recorded with its
``spec_errors`` so the test that sent it fails.
"""

from __future__ import annotations

import copy
import json
import os
from urllib.parse import urlencode

SPEC_DIR = os.path.join(os.path.dirname(__file__), "specs")


def load_spec(filename):
    with open(os.path.join(SPEC_DIR, filename), encoding="utf-8") as handle:
        return json.load(handle)


UNDESCRIBED = ("PathNotFound", "OperationNotFound", "ServerNotFound")


class OpenApiChecker:
    """Validates parameters and bodies (not security: auth is simulated by each provider,
    because some specs list only legacy auth schemes) of requests against an OpenAPI 3 spec."""

    def __init__(self, spec_dict, server_url):
        from jsonschema_path import SchemaPath
        from openapi_core.validation.request.validators import (
            V30RequestBodyValidator, V30RequestParametersValidator)

        spec_dict = copy.deepcopy(spec_dict)
        spec_dict["servers"] = [{"url": server_url}]
        for item in spec_dict.get("paths", {}).values():
            item.pop("servers", None)
            for op in item.values():
                if isinstance(op, dict):
                    op.pop("servers", None)
        spec = SchemaPath.from_dict(spec_dict)
        self.server_url = server_url
        self.validators = [V30RequestParametersValidator(spec), V30RequestBodyValidator(spec)]

    def errors(self, method, host_url, path, query, headers, body, content_type):
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        class _Req:
            pass

        req = _Req()
        req.host_url = host_url
        req.path = path
        req.full_url_pattern = host_url + path
        req.method = method.lower()
        req.parameters = RequestParameters(
            query=ImmutableMultiDict([(k, v) for k, vs in query.items() for v in vs]),
            header=Headers(list(headers.items())),
            cookie=ImmutableMultiDict(),
        )
        req.content_type = (content_type or "application/json").split(";")[0].strip().lower()
        req.body = body or None
        problems = []
        for validator in self.validators:
            for err in validator.iter_errors(req):
                # The spec files are trimmed subsets: a call they do not describe cannot be
                # checked, which is not the same as being wrong.
                if type(err).__name__ in UNDESCRIBED:
                    return []
                problems.append(_describe(err))
        return problems


def _describe(err):
    text = str(err)
    causes = []
    for attr in ("schema_errors", "__cause__"):
        inner = getattr(err, attr, None)
        if inner is None:
            continue
        if isinstance(inner, (list, tuple)):
            causes.extend(str(getattr(e, "message", e)) for e in inner)
        else:
            sub = getattr(inner, "schema_errors", None)
            if sub:
                causes.extend(str(getattr(e, "message", e)) for e in sub)
            else:
                causes.append(str(inner))
    if causes:
        text += ": " + "; ".join(c for c in causes if c)
    return text


def query_string(query):
    return urlencode([(k, v) for k, vs in query.items() for v in vs])
