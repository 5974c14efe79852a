package sharing_test

import "flag"

var updateGolden = flag.Bool("update", false, "rewrite golden files in testdata/")
