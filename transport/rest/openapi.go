package rest

import _ "embed"

// openAPIDocument is the OpenAPI 3 description of this API, served at
// /v1/openapi.json. TestOpenAPIMatchesRoutes keeps it in step with the
// router and the problem codes.
//
//go:embed openapi.json
var openAPIDocument []byte
