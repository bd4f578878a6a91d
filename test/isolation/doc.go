// Package isolation holds the hostile-input property test of the tenant
// isolation promise: random, adversarial OTLP from 1,000 authenticated
// tenants through the real pipeline (tenant, tenantretention, tenantredact
// processors and the tenantrouter exporter's local store), then every
// store is read back and checked. The package has no code outside its
// tests.
package isolation
