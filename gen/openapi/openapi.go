// Package openapi embeds the OpenAPI (Swagger 2.0) document generated from
// proto/notifier/v1 by protoc-gen-openapiv2. The service serves it at
// /openapi.json.
package openapi

import _ "embed"

// NotifierJSON is the OpenAPI document of notifier.v1.NotifierService's REST
// mirror.
//
//go:embed notifier.swagger.json
var NotifierJSON []byte
