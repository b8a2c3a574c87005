module gosieve

go 1.19
