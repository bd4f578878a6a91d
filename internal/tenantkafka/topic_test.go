package tenantkafka

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tenancyhq/tenancy/internal/policy"
)

func TestTopicsRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		template, tenant string
		sig              policy.Signal
		want             string
	}{
		{DefaultTopic, "acme", policy.SignalLogs, "tenancy.acme.logs"},
		{DefaultTopic, "a.b-c_d", policy.SignalMetrics, "tenancy.a.b-c_d.metrics"},
		{DefaultTopic, policy.Quarantine, policy.SignalTraces, "tenancy._quarantine.traces"},
		{"{signal}-{tenant}", "acme", policy.SignalLogs, "logs-acme"},
		{"tenancy.{signal}", "", policy.SignalLogs, "tenancy.logs"},
	} {
		tp, err := NewTopics(tc.template)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tp.Topic(tc.tenant, tc.sig)
		if err != nil || got != tc.want {
			t.Fatalf("%s: Topic = %q, %v; want %q", tc.template, got, err, tc.want)
		}
		tenant, sig, ok := tp.Parse(got)
		if !ok || tenant != tc.tenant || sig != tc.sig {
			t.Fatalf("%s: Parse(%q) = %q %q %v", tc.template, got, tenant, sig, ok)
		}
	}
}

func TestTopicsRefuse(t *testing.T) {
	for _, bad := range []string{"tenancy.{tenant}", "{signal}.{signal}", "a b.{signal}", "{tenant}{tenant}.{signal}"} {
		if _, err := NewTopics(bad); err == nil {
			t.Errorf("NewTopics(%q) accepted", bad)
		}
	}
	tp, _ := NewTopics(DefaultTopic)
	// dskit tenant ids may hold characters Kafka topics may not.
	if _, err := tp.Topic("acme(eu)", policy.SignalLogs); err == nil {
		t.Error("a topic with ( was made")
	}
	if _, err := tp.Topic(strings.Repeat("a", 250), policy.SignalLogs); err == nil {
		t.Error("a topic over 249 characters was made")
	}
	for _, other := range []string{"tenancy.acme.profiles", "other.acme.logs", "tenancy..logs", "tenancy.acme.logs.x"} {
		if _, _, ok := tp.Parse(other); ok {
			t.Errorf("Parse(%q) matched", other)
		}
	}
}

func TestClientConfigValidate(t *testing.T) {
	good := ClientConfig{Brokers: []string{"127.0.0.1:9092"}, SASL: &SASLConfig{Mechanism: "SCRAM-SHA-512", Username: "u", Password: "p"}}
	if err := good.Check(); err != nil {
		t.Fatal(err)
	}
	bad := ClientConfig{Brokers: []string{"nohost"}, SASL: &SASLConfig{Mechanism: "GSSAPI"}, DialTimeout: -1}
	err := bad.Check()
	for _, want := range []string{"brokers[0]", "sasl.mechanism", "sasl: username", "dial_timeout"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if err := (&ClientConfig{}).Check(); err == nil || !strings.Contains(err.Error(), "brokers:") {
		t.Errorf("no brokers accepted: %v", err)
	}
}

func TestTopicsRegex(t *testing.T) {
	tp, _ := NewTopics(DefaultTopic)
	logs := regexp.MustCompile(tp.Regex(false, policy.SignalLogs, policy.SignalTraces))
	reserved := regexp.MustCompile(tp.Regex(true, policy.SignalLogs))
	for topic, want := range map[string][2]bool{
		"tenancy.acme.logs":        {true, false},
		"tenancy.acme.traces":      {true, false},
		"tenancy.acme.metrics":     {false, false},
		"tenancy._quarantine.logs": {false, true},
		"tenancy._governance.logs": {false, true},
		"tenancy.a_b.logs":         {true, false},
		"other.acme.logs":          {false, false},
	} {
		if got := [2]bool{logs.MatchString(topic), reserved.MatchString(topic)}; got != want {
			t.Errorf("%s: tenant, reserved match = %v, want %v", topic, got, want)
		}
	}
}
