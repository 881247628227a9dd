// Command etcd is etcd's own main: etcdmain.Main, as in go.etcd.io/etcd/v3.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
