from dvtex.player.cli import main

main()
