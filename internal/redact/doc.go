// Package redact removes other tenants' identifiers and the PII and secret
// classes named by a tenant's policy from OpenTelemetry logs, metrics and
// traces.
//
// A Redactor is built once per policy version (New) and is safe for
// concurrent use; the tenantredact processor keeps the live one and swaps
// it on a policy reload without blocking readers.
//
// Ownership. For each resource the owner is the resource attribute
// tenant.id. Resources of the reserved tenants _quarantine and _governance,
// resources without tenant.id, and resources naming an undeclared tenant have
// no owner: every declared tenant's identifiers are foreign there, and the
// policy's defaults block gives the class actions.
//
// Guarantees.
//   - Foreign identifiers. Every declared tenant's Identifiers are matched
//     with one Aho-Corasick automaton, ASCII case-insensitively, so the cost
//     per string does not grow with the number of tenants. A hit must start
//     and end on a word boundary (the neighbouring byte is not an ASCII letter
//     or digit, unless the identifier itself starts or ends with punctuation,
//     as key prefixes like "ak_acme_" do), so "hooli" does not touch
//     "hooligan". An identifier ending in "*" ("acme_live_k*") is a key
//     prefix: no boundary is wanted after it, so it matches any token that
//     starts with it. The whole enclosing token (ASCII letters, digits and
//     . _ - @ +) is replaced by "<redacted:foreign_tenant>": the whole e-mail
//     address, the whole API key, the host of a URL. Identifiers are also
//     found percent-encoded (%40, %2F; "+" is left alone because it is legal
//     in e-mail local parts) and JSON-escaped (\u0040, \/), up to three
//     nested layers; the replaced range covers the encoded bytes. An
//     attribute whose key holds a foreign identifier is removed. Foreign
//     identifiers are always masked, whatever the class actions say.
//   - Classes. policy.RedactionClasses are found with regular expressions
//     behind a keyword prefilter (the same automaton pass) and confirmed by
//     validators (Luhn, mod-97, SSN ranges, IP parsing, a JWT's three
//     base64url parts with a JSON header naming its alg). secret_pair,
//     username and endpoint take the value assigned to a name (key=value,
//     JSON, YAML, XML, PHP define): a quoted value to its closing quote, a
//     bare one to a delimiter. An attribute whose key names a secret, a user
//     or an endpoint has its whole value in that class. Actions:
//     mask writes "<redacted:CLASS>"; hash writes "<hash:KEYID:HEX>", the
//     first 16 bytes of HMAC-SHA256 under a per-tenant key derived with HKDF
//     from the active hash key (Pseudonym re-derives one under any key,
//     for the inactive keys kept after a rotation); remove deletes the whole attribute when the
//     value is an attribute value of a map, and deletes the substring
//     elsewhere (bodies, span names, slice elements); keep, or a class absent
//     from the policy, leaves the value alone.
//   - Tenant-defined rules (policy redaction.rules) are classes named by the
//     rule: an RE2 expression that runs only on strings holding one of its
//     keywords, found in the same automaton pass (rules.go), with the same
//     actions and audit.
//   - Places. Resource, scope and record attributes (nested maps and slices
//     included), schema URLs, scope names and versions, log bodies,
//     severity texts and event names, span names, status messages,
//     tracestates, span events and links, metric names, descriptions,
//     units and metadata, and the attributes of datapoints and exemplars of
//     every metric type. Byte values that are valid UTF-8 are scanned as
//     text. A metric whose name changed is counted on its first point, or
//     on its resource when it has none. tenant.id, tenant.fingerprint and
//     the audit attributes are never touched.
//   - Audit. A log record, span or datapoint that changed gets
//     tenant.redaction.classes, the classes removed from it (class names,
//     never values). A resource in which anything changed (its attributes,
//     its scopes', a metric's name, any of its records) gets
//     tenant.redaction.count (the values changed in all of it),
//     tenant.redaction.records (its records that changed),
//     tenant.redaction.classes (the classes of all of it) and
//     tenant.redaction.policy_version. A second pass adds to the counts and
//     the lists and writes its own version. Counts per tenant and class
//     come back as Stats.
package redact
