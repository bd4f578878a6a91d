package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/tenancyhq/tenancy/internal/localstore"
)

const backupUsage = `Usage:
  tenancyctl backup --data DIR (--tenant T | --all) --out DIR
      Copy T's database (every tenant's with --all) online, while the
      collector runs, to OUT/T: data.db still encrypted under T's data key,
      data.key wrapped by the master key, and BACKUP.json with the audit
      chain head. The copy is verified before it is described, and the
      backup is recorded in T's audit log. Keep the master key apart from
      the backups; shredding T does not reach its backups: destroy them too.
  tenancyctl restore --data DIR --from DIR
      Put back the backup in FROM (a folder with BACKUP.json, or a folder of
      such folders): refused for a tenant the store holds or shredded, and
      for a backup that does not verify or does not end at the head
      BACKUP.json names. Then audit verify passes on the restored tenant;
      against the anchor log of the store the backup came from it shows
      what was written after the backup (a truncated or rebuilt chain).
`

func runBackup(args []string, stdout, stderr io.Writer) int {
	f := newStoreFlags("backup", stderr)
	f.fs.Usage = func() { fmt.Fprint(stderr, backupUsage) }
	all := f.fs.Bool("all", false, "every tenant")
	out := f.fs.String("out", "", "folder to write the backups into")
	if code := f.parse(args, false, stderr); code >= 0 {
		return code
	}
	if *out == "" || (f.tenant == "") == !*all {
		fmt.Fprintf(stderr, "tenancyctl backup: want --out and one of --tenant or --all\n\n%s", backupUsage)
		return 2
	}
	s, version, err := f.open()
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl backup: %v\n", err)
		return 1
	}
	defer s.Close()
	tenants := []string{f.tenant}
	if *all {
		if tenants, err = s.Tenants(); err != nil {
			fmt.Fprintf(stderr, "tenancyctl backup: %v\n", err)
			return 1
		}
	}
	code := 0
	for _, tn := range tenants {
		if _, shredded, _ := s.ReadTombstone(tn); shredded && *all {
			fmt.Fprintf(stdout, "%s: shredded, not backed up\n", tn)
			continue
		}
		info, err := s.Backup(tn, *out, version)
		if err != nil {
			fmt.Fprintf(stderr, "tenancyctl backup: %s: %v\n", tn, err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: backed up to %s: %d rows, %d bytes, audit head seq %d hash %s\n",
			tn, filepath.Join(*out, tn), info.Rows, info.Bytes, info.HeadSeq, info.HeadHash)
	}
	return code
}

func runRestore(args []string, stdout, stderr io.Writer) int {
	f := newStoreFlags("restore", stderr)
	f.fs.Usage = func() { fmt.Fprint(stderr, backupUsage) }
	from := f.fs.String("from", "", "a backup folder, or a folder of them")
	if code := f.parse(args, false, stderr); code >= 0 {
		return code
	}
	if *from == "" {
		fmt.Fprintf(stderr, "tenancyctl restore: --from is required\n\n%s", backupUsage)
		return 2
	}
	folders := []string{*from}
	if _, err := os.Stat(filepath.Join(*from, localstore.BackupFileName)); err != nil {
		found, _ := filepath.Glob(filepath.Join(*from, "*", localstore.BackupFileName))
		if len(found) == 0 {
			fmt.Fprintf(stderr, "tenancyctl restore: no %s in %s or its folders\n", localstore.BackupFileName, *from)
			return 1
		}
		folders = folders[:0]
		for _, p := range found {
			folders = append(folders, filepath.Dir(p))
		}
	}
	s, version, err := f.open()
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl restore: %v\n", err)
		return 1
	}
	defer s.Close()
	code := 0
	for _, dir := range folders {
		info, err := s.Restore(dir, version)
		if err != nil {
			fmt.Fprintf(stderr, "tenancyctl restore: %s: %v\n", dir, err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: restored from %s (backup of %s, audit head seq %d)\n", info.Tenant, dir, info.Time.Format("2006-01-02T15:04:05Z07:00"), info.HeadSeq)
	}
	return code
}
