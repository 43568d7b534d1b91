from dvtex.train.cli import main

main()
