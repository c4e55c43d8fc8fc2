module caskbench/proc

go 1.19
