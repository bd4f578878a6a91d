package tenantkafka

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// Placeholders of a topic template.
const (
	PlaceholderTenant = "{tenant}"
	PlaceholderSignal = "{signal}"
)

// Default topic templates: a topic per tenant and signal, and the
// pipeline tenants' (_quarantine, _governance) topics, which always name
// their tenant.
const (
	DefaultTopic         = "tenancy.{tenant}.{signal}"
	DefaultReservedTopic = "tenancy.{tenant}.{signal}"
)

// MaxTopicLength is Kafka's limit on a topic name.
const MaxTopicLength = 249

// Topics maps (tenant, signal) to a topic and back. With {tenant} in the
// template each tenant has its own topics and the topic binds the tenant;
// without, there is one topic per signal and the record key (the tenant
// id) does.
type Topics struct {
	template string
	re       *regexp.Regexp
}

// NewTopics checks a template: it must hold {signal} once (a topic carries
// one signal, so the reader knows how to decode it), {tenant} at most once,
// and otherwise only Kafka's topic characters.
func NewTopics(template string) (Topics, error) {
	if strings.Count(template, PlaceholderSignal) != 1 {
		return Topics{}, fmt.Errorf("%q must hold %s exactly once", template, PlaceholderSignal)
	}
	if strings.Count(template, PlaceholderTenant) > 1 {
		return Topics{}, fmt.Errorf("%q holds %s more than once", template, PlaceholderTenant)
	}
	rest := strings.NewReplacer(PlaceholderTenant, "", PlaceholderSignal, "").Replace(template)
	if !validChars(rest) {
		return Topics{}, fmt.Errorf("%q: a topic may only hold a-z A-Z 0-9 . _ - besides the placeholders", template)
	}
	t := Topics{template: template}
	t.re = regexp.MustCompile(t.pattern(`[a-zA-Z0-9._-]+`, `logs|metrics|traces`))
	return t, nil
}

// pattern is the template as an anchored regular expression, with tenant
// and signal as the groups' contents.
func (t Topics) pattern(tenant, signal string) string {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(t.template); {
		switch {
		case strings.HasPrefix(t.template[i:], PlaceholderTenant):
			b.WriteString("(" + tenant + ")")
			i += len(PlaceholderTenant)
		case strings.HasPrefix(t.template[i:], PlaceholderSignal):
			b.WriteString("(" + signal + ")")
			i += len(PlaceholderSignal)
		default:
			b.WriteString(regexp.QuoteMeta(t.template[i : i+1]))
			i++
		}
	}
	b.WriteString("$")
	return b.String()
}

// PerTenant reports whether each tenant has topics of its own.
func (t Topics) PerTenant() bool { return strings.Contains(t.template, PlaceholderTenant) }

// ErrBadTopic: a tenant id that makes no valid Kafka topic name (Kafka
// takes fewer characters than tenant ids may hold).
var ErrBadTopic = errors.New("not a valid Kafka topic name")

// Topic is the topic of a tenant's signal.
func (t Topics) Topic(tenant string, sig policy.Signal) (string, error) {
	name := strings.NewReplacer(PlaceholderTenant, tenant, PlaceholderSignal, string(sig)).Replace(t.template)
	if !ValidTopic(name) {
		return "", fmt.Errorf("%w: %q (tenant %s)", ErrBadTopic, name, tenant)
	}
	return name, nil
}

// Parse reads the tenant ("" without {tenant}) and signal off a topic of
// this template.
func (t Topics) Parse(topic string) (tenant string, sig policy.Signal, ok bool) {
	m := t.re.FindStringSubmatch(topic)
	if m == nil {
		return "", "", false
	}
	ti, si := strings.Index(t.template, PlaceholderTenant), strings.Index(t.template, PlaceholderSignal)
	switch {
	case ti < 0:
		return "", policy.Signal(m[1]), true
	case ti < si:
		return m[1], policy.Signal(m[2]), true
	default:
		return m[2], policy.Signal(m[1]), true
	}
}

// Regex matches the topics of the template for sigs, for a consumer that
// follows tenants' topics as they are created: the policy tenants' or,
// with reserved, the pipeline tenants' (their ids start with "_", which no
// policy tenant's may; RE2 has no look-ahead, so the first character
// decides).
func (t Topics) Regex(reserved bool, sigs ...policy.Signal) string {
	names := make([]string, len(sigs))
	for i, s := range sigs {
		names[i] = regexp.QuoteMeta(string(s))
	}
	tenant := `[a-zA-Z0-9.-][a-zA-Z0-9._-]*`
	if reserved {
		tenant = `_[a-zA-Z0-9._-]+`
	}
	return t.pattern(tenant, strings.Join(names, "|"))
}

// ValidTopic applies Kafka's topic name rules.
func ValidTopic(name string) bool {
	return name != "" && name != "." && name != ".." && len(name) <= MaxTopicLength && validChars(name)
}

func validChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// RetentionMs is the retention.ms of a tenant's own topic of sig: the
// policy's retention for the signal (the defaults' for the pipeline
// tenants and tenants not in the policy); -1, the broker's, when the
// policy sets none. The router's kafka backend sets it and tenancyctl
// overrides --backend kafka prints it.
func RetentionMs(pol *policy.Policy, tenant string, sig policy.Signal) int64 {
	ret := pol.Defaults.Retention[sig]
	if t, ok := pol.Tenant(tenant); ok {
		ret = t.Retention[sig]
	}
	if ret <= 0 {
		return -1
	}
	return ret.Milliseconds()
}
