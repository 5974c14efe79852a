// Package devnet runs a local consortium on loopback: it creates N
// organizations (node keys, configs, admin keys and a roster signed by a
// threshold of the admins) and runs each gateway as its own OS process, so
// that a scenario exercises the product exactly as operators run it.
//
// Scenarios are scripted sequences of steps; each step checks what it did
// and a scenario passes only if every step was verified. They are the demo
// ('make demo') and the footprint figures ('make bench').
//
// devnet sits above node in the dependency order: it drives gateways as
// child processes and reads their state through the control endpoint.
package devnet
