# PyTorch reference for issue 12's speed goals (optional: the project never depends on it).
# Debian's python3-torch (1.13, OpenBLAS), CPU. The models and data mirror bench/native.bench.ts and
# bench/epoch.bench.ts exactly: MLP 784-256-128-10 (ReLU) and the CNN conv3x3x16-relu-maxpool2-
# conv3x3x32-relu-maxpool2-dense10 (NHWC in Esper, NCHW here: same arithmetic), softmax cross-
# entropy, Adam 1e-3, batch 128.
#   /usr/bin/python3 bench/reference/torch_reference.py step  --model mlp --threads 1 [--rounds 5 --steps 20]
#   /usr/bin/python3 bench/reference/torch_reference.py epoch --threads 2 [--epochs 3 --dir /usr/share/datasets/fashion-mnist]
# Prints one JSON line: {"kind", "model", "threads", "msPerStep"} or {"kind", "threads", "epochMs": [...]}.
import argparse, gzip, json, os, struct, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F

def mlp():
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))

def cnn():
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(7 * 7 * 32, 10))

def step_fn(model, opt, x, y):
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()  # reads the loss: the step has finished, as Esper's bench reads it

def bench_step(a):
    torch.manual_seed(1)
    model = mlp() if a.model == 'mlp' else cnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(128, 784) if a.model == 'mlp' else torch.randn(128, 1, 28, 28)
    y = torch.randint(0, 10, (128,))
    for _ in range(3): step_fn(model, opt, x, y)
    medians = []
    for _ in range(a.rounds):
        times = []
        for _ in range(a.steps):
            t = time.perf_counter(); step_fn(model, opt, x, y); times.append((time.perf_counter() - t) * 1e3)
        medians.append(float(np.median(times)))
    print(json.dumps({'kind': 'step', 'model': a.model, 'threads': a.threads, 'msPerStep': float(np.median(medians)), 'roundMedians': medians}))

def idx(path):
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        magic, n = struct.unpack('>II', f.read(8)); dims = [struct.unpack('>I', f.read(4))[0] for _ in range(magic % 256 - 1)]
        return np.frombuffer(f.read(), dtype=np.uint8).reshape([n] + dims)

def find(d, name):
    for candidate in (os.path.join(d, name), os.path.join(d, name + '.gz')):
        if os.path.exists(candidate): return candidate
    raise FileNotFoundError(name)

def bench_epoch(a):
    # 20k Fashion-MNIST images, 16k train / 4k validation, one epoch = the training pass + a validation pass.
    X = torch.tensor(idx(find(a.dir, 'train-images-idx3-ubyte'))[:20000].reshape(20000, -1) / 255.0, dtype=torch.float32)
    Y = torch.tensor(idx(find(a.dir, 'train-labels-idx1-ubyte'))[:20000].astype(np.int64))
    g = torch.Generator().manual_seed(0); perm = torch.randperm(20000, generator=g)
    tr, va = perm[4000:], perm[:4000]
    torch.manual_seed(0)
    model = mlp(); opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    epoch_ms = []
    for _ in range(a.epochs):
        t = time.perf_counter()
        order = tr[torch.randperm(len(tr), generator=g)]
        for i in range(0, len(order), 128):
            b = order[i:i + 128]; step_fn(model, opt, X[b], Y[b])
        with torch.no_grad():
            correct = 0
            for i in range(0, len(va), 1024):
                b = va[i:i + 1024]; correct += (model(X[b]).argmax(1) == Y[b]).sum().item()
        epoch_ms.append((time.perf_counter() - t) * 1e3)
    print(json.dumps({'kind': 'epoch', 'threads': a.threads, 'epochMs': epoch_ms, 'validationAccuracy': correct / len(va)}))

p = argparse.ArgumentParser()
p.add_argument('kind', choices=['step', 'epoch'])
p.add_argument('--model', choices=['mlp', 'cnn'], default='mlp')
p.add_argument('--threads', type=int, default=1)
p.add_argument('--rounds', type=int, default=5)
p.add_argument('--steps', type=int, default=20)
p.add_argument('--epochs', type=int, default=3)
p.add_argument('--dir', default='/usr/share/datasets/fashion-mnist')
a = p.parse_args()
torch.set_num_threads(a.threads)
bench_step(a) if a.kind == 'step' else bench_epoch(a)
