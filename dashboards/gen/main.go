// Command gen writes the dashboards and alert rules of package dashboards
// into a directory (make dashboards).
package main

import (
	"flag"
	"log"
	"os"
	"path/filepath"

	"github.com/tenancyhq/tenancy/dashboards"
)

func main() {
	dir := flag.String("out", "dashboards", "directory to write into")
	flag.Parse()
	files, err := dashboards.Generate()
	if err != nil {
		log.Fatal(err)
	}
	for name, b := range files {
		path := filepath.Join(*dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
