module caskbench/peers

go 1.19
