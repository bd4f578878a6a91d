package tenantgatewayreceiver

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"
)

// snappyFramedHeader starts every snappy framed stream.
var snappyFramedHeader = []byte{0xff, 0x06, 0x00, 0x00, 's', 'N', 'a', 'P', 'p', 'Y'}

// bodyLimits bound one request's body: on the wire and after decoding.
type bodyLimits struct {
	raw     int64 // bytes received; 0 = no limit of the tenant
	decoded int64 // bytes after Content-Encoding and implicit snappy
}

// readBody reads r's body within lim and decodes its Content-Encoding (and
// the snappy block that Loki's protobuf and remote write imply). Nothing is
// allocated beyond the limits: compressed streams are read through
// io.LimitReader and a snappy block's declared length is checked first.
func readBody(r *http.Request, lim bodyLimits, accepted []string, implicitSnappy bool) ([]byte, *httpError) {
	if lim.raw > 0 && r.ContentLength > lim.raw {
		return nil, errTooLarge("request body is %d bytes, over the tenant's max_request_bytes %d", r.ContentLength, lim.raw)
	}
	raw, err := readLimited(r.Body, lim.raw)
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return nil, errTooLarge("request body over the server's max_request_body_size %d", mbe.Limit)
		case errors.Is(err, errOverLimit):
			return nil, errTooLarge("request body over the tenant's max_request_bytes %d", lim.raw)
		}
		return nil, errBadRequest("truncated", "reading the request body: %v", err)
	}
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	if enc == "identity" {
		enc = ""
	}
	if !contains(accepted, enc) {
		return nil, &httpError{status: http.StatusUnsupportedMediaType, reason: "unsupported_encoding",
			msg: fmt.Sprintf("Content-Encoding %q is not accepted (accepted: %q)", enc, accepted)}
	}
	body, herr := decode(enc, raw, lim.decoded)
	if herr != nil {
		return nil, herr
	}
	if implicitSnappy && enc != "snappy" && enc != "x-snappy-framed" {
		return decode("snappy", body, lim.decoded)
	}
	return body, nil
}

var errOverLimit = errors.New("over limit")

// readLimited reads all of rd, failing with errOverLimit past max bytes
// (max <= 0: no limit of its own).
func readLimited(rd io.Reader, max int64) ([]byte, error) {
	if max <= 0 {
		return io.ReadAll(rd)
	}
	b, err := io.ReadAll(io.LimitReader(rd, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, errOverLimit
	}
	return b, nil
}

func decode(enc string, raw []byte, max int64) ([]byte, *httpError) {
	var rd io.Reader
	switch enc {
	case "":
		if max > 0 && int64(len(raw)) > max {
			return nil, errTooLarge("request body is %d bytes, over the tenant's max_decompressed_bytes %d", len(raw), max)
		}
		return raw, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, errBadRequest("corrupt", "body is not valid gzip: %v", err)
		}
		rd = zr
	case "zlib", "deflate":
		zr, err := zlib.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, errBadRequest("corrupt", "body is not valid zlib/deflate: %v", err)
		}
		rd = zr
	case "zstd":
		opts := []zstd.DOption{zstd.WithDecoderConcurrency(1)}
		if max > 0 {
			opts = append(opts, zstd.WithDecoderMaxMemory(uint64(max)))
		}
		zr, err := zstd.NewReader(bytes.NewReader(raw), opts...)
		if err != nil {
			return nil, errBadRequest("corrupt", "body is not valid zstd: %v", err)
		}
		defer zr.Close()
		rd = zr
	case "snappy", "x-snappy-framed":
		if bytes.HasPrefix(raw, snappyFramedHeader) {
			rd = snappy.NewReader(bufio.NewReader(bytes.NewReader(raw)))
			break
		}
		n, err := snappy.DecodedLen(raw)
		if err != nil {
			return nil, errBadRequest("corrupt", "body is not a valid snappy block: %v", err)
		}
		if max > 0 && int64(n) > max {
			return nil, errTooLarge("snappy body declares %d decoded bytes, over the tenant's max_decompressed_bytes %d", n, max)
		}
		out, err := snappy.Decode(nil, raw)
		if err != nil {
			return nil, errBadRequest("corrupt", "body is not a valid snappy block: %v", err)
		}
		return out, nil
	default:
		return nil, &httpError{status: http.StatusUnsupportedMediaType, reason: "unsupported_encoding",
			msg: fmt.Sprintf("Content-Encoding %q is not supported", enc)}
	}
	out, err := readLimited(rd, max)
	if errors.Is(err, errOverLimit) {
		return nil, errTooLarge("%s body decompresses to more than the tenant's max_decompressed_bytes %d", enc, max)
	}
	if err != nil {
		return nil, errBadRequest("corrupt", "%s body is corrupt or truncated: %v", enc, err)
	}
	return out, nil
}
