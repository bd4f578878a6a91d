module github.com/tenancyhq/tenancy

go 1.26.8
