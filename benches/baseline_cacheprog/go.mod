module example.com/baseline_cacheprog

go 1.24
