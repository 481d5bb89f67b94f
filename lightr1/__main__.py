from lightr1.cli import main

main()
