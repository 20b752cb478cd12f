from torch_geometric_unlearn.benchmark.runner import main

if __name__ == '__main__':
    raise SystemExit(main())
