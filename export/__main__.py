from dvtex.export.cli import main

main()
