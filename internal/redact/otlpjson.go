package redact

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Summary is what RedactOTLPJSON did.
type Summary struct {
	// Lines is the number of requests (non-empty lines) read and written.
	Lines int
	// Records counts log records, datapoints and spans read (and written:
	// redaction never drops a record).
	Records int
	Stats   Stats
}

// ByClass sums the redactions per class over all tenants.
func (s Summary) ByClass() map[string]int64 {
	out := map[string]int64{}
	for k, v := range s.Stats.Redactions {
		out[k.Class] += v
	}
	return out
}

// ByTenant sums the redactions per tenant over all classes.
func (s Summary) ByTenant() map[string]int64 {
	out := map[string]int64{}
	for k, v := range s.Stats.Redactions {
		out[k.Tenant] += v
	}
	return out
}

// RedactOTLPJSON reads OTLP/JSON lines as the file exporter writes them (one
// ExportLogsServiceRequest, ExportMetricsServiceRequest or
// ExportTraceServiceRequest per line, told apart by the top-level key),
// redacts each with r, and writes it to out in the same format. Empty lines
// are skipped. A line that does not parse is an error naming its number.
func RedactOTLPJSON(r *Redactor, in io.Reader, out io.Writer) (Summary, error) {
	return RedactOTLPJSONEach(r, in, out, nil)
}

// RedactOTLPJSONEach is RedactOTLPJSON calling each, when not nil, with the
// summary so far after every request written (for progress reports).
func RedactOTLPJSONEach(r *Redactor, in io.Reader, out io.Writer, each func(Summary)) (Summary, error) {
	var sum Summary
	br := bufio.NewReaderSize(in, 1<<20)
	bw := bufio.NewWriter(out)
	for lineNo := 1; ; lineNo++ {
		line, readErr := br.ReadBytes('\n')
		if readErr != nil && !errors.Is(readErr, io.EOF) {
			return sum, fmt.Errorf("line %d: %w", lineNo, readErr)
		}
		if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 {
			res, err := redactLine(r, trimmed, &sum)
			if err != nil {
				return sum, fmt.Errorf("line %d: %w", lineNo, err)
			}
			sum.Lines++
			if _, err := bw.Write(append(res, '\n')); err != nil {
				return sum, fmt.Errorf("line %d: write: %w", lineNo, err)
			}
			if each != nil {
				each(sum)
			}
		}
		if readErr != nil {
			break
		}
	}
	if err := bw.Flush(); err != nil {
		return sum, fmt.Errorf("write: %w", err)
	}
	return sum, nil
}

func redactLine(r *Redactor, line []byte, sum *Summary) ([]byte, error) {
	kind, err := topLevelKey(line)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "resourceLogs":
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(line)
		if err != nil {
			return nil, fmt.Errorf("logs: %w", err)
		}
		sum.Records += ld.LogRecordCount()
		sum.Stats.Add(r.Logs(ld))
		return (&plog.JSONMarshaler{}).MarshalLogs(ld)
	case "resourceMetrics":
		md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(line)
		if err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		sum.Records += md.DataPointCount()
		sum.Stats.Add(r.Metrics(md))
		return (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
	case "resourceSpans":
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(line)
		if err != nil {
			return nil, fmt.Errorf("traces: %w", err)
		}
		sum.Records += td.SpanCount()
		sum.Stats.Add(r.Traces(td))
		return (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	}
	return nil, fmt.Errorf("want an object with resourceLogs, resourceMetrics or resourceSpans, found %q", kind)
}

// topLevelKey returns the first key of the JSON object in line that names a
// signal, or the first key if none does.
func topLevelKey(line []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	tok, err := dec.Token()
	if err != nil {
		return "", fmt.Errorf("not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return "", errors.New("not a JSON object")
	}
	first := ""
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", fmt.Errorf("not JSON: %w", err)
		}
		key, _ := tok.(string)
		switch key {
		case "resourceLogs", "resourceMetrics", "resourceSpans":
			return key, nil
		}
		if first == "" {
			first = key
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", fmt.Errorf("not JSON: %w", err)
		}
	}
	return first, nil
}
