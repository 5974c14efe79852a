// Package server serves a gateway's API (package api) over its services:
// one small interface per group of routes (services.go), which the
// gateway's assembly implements.
//
// One table (routes.go) lists every route with its method and path, the
// token scope it needs on the TCP listener, its summary, request and
// response, and its handler: the mux, the scope check and the OpenAPI
// document (openapi.go, and the golden openapi.json) are all derived from
// it. A new route is one row there and one method of a service.
//
// Services return errors of the kinds package api names (api.ErrNotFound
// and the others); answers.go turns them into problem details with their
// status, in one place. On the TCP listener (remote.go), every request
// needs a token (tokens.go) that holds its route's scope, within the
// token's rate and the listener's connection limits (connlimit.go).
package server
