module caskbench/fs

go 1.19
