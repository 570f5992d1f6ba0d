// The XOR network of the JAX tutorial (seeds/000_807ca05b5739ae45.txt), section by section, in C#.
// Run: dotnet run --project Examples/Xor -c Release -- [--seed N] [--quiet] [--backend cpu|torch]
using System.Linq.Expressions;
using Functional.AD;
using Functional.AD.Torch;
using static Functional.AD.Np;

int seed = 0;
bool quiet = false;
string backend = "cpu";
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--seed" && i + 1 < args.Length) seed = int.Parse(args[++i]);
    else if (args[i] == "--quiet") quiet = true;
    else if (args[i] == "--backend" && i + 1 < args.Length && args[i + 1] is "cpu" or "torch") backend = args[++i];
    else { Console.Error.WriteLine($"unknown argument {args[i]}; usage: Xor [--seed N] [--quiet] [--backend cpu|torch]"); return 2; }
}
void Say(string s) { if (!quiet) Console.WriteLine(s); }

// ---- 2-3. The net and the loss --------------------------------------------------------------
// A single hidden layer of 3 tanh units and a sigmoid output, trained with cross-entropy.
// The code is the numpy code of the notebook, written as expressions so that Ad can read it.
Expression<Func<Tensor, Tensor>> sigmoid = x => 1.0 / (1 + Exp(-x));
Expression<Func<Params, Tensor, Tensor>> net =
    (p, x) => sigmoid.Invoke(Dot(p.W2, Tanh(Dot(p.W1, x) + p.B1)) + p.B2);
Expression<Func<Params, Tensor, Tensor, Tensor>> loss =
    (p, x, y) => Let(net.Invoke(p, x), o => -y * Log(o) - (1 - y) * Log(1 - o));

var netFn = net.Compile();
var inputs = new[] { new Tensor(new float[] { 0, 0 }), new Tensor(new float[] { 0, 1 }), new Tensor(new float[] { 1, 0 }), new Tensor(new float[] { 1, 1 }) };
var targets = new[] { 0f, 1f, 1f, 0f };

// test_all_inputs: does the net produce the right output for all four inputs?
bool TestAllInputs(Params p)
{
    bool all = true;
    for (int i = 0; i < inputs.Length; i++)
    {
        var x = inputs[i].ToFloatArray();
        int prediction = (double)netFn(p, inputs[i]) > 0.5 ? 1 : 0;
        Say($"[{x[0]} {x[1]}] -> {prediction}");
        all &= prediction == (int)targets[i];
    }
    return all;
}

// Parameters are initialised from an explicit key, as jax.random does: the same key gives the same net.
Params InitialParams(int s) => ParamsFrom(PrngKey.Create(s));
Params ParamsFrom(PrngKey key) => Tree.Normal(key, new Params(Zeros([3, 2]), Zeros([3]), Zeros([3]), Zeros([])));

// ---- 4. grad ---------------------------------------------------------------------------------
// Ad.Grad(loss) is a new expression: the gradient of the loss with respect to the parameters.
var lossGrad = Ad.Grad(loss);
if (!quiet)
{
    Console.WriteLine("Ad.Show(Ad.Grad(loss)):");
    Console.WriteLine(Ad.Show(lossGrad));
    Console.WriteLine();
}
var lossGradFn = lossGrad.Compile();   // un-jitted: plain Expression.Compile()
// --backend torch: the whole step (gradient and update) jitted to TorchSharp, the parameters kept on the device;
// donating them (argument 0) frees the old ones at each step
Func<Params, Tensor, Tensor, Params>? torchStep = null;
if (backend == "torch")
{
    var sgd = Optim.Sgd<Params>(1.0);
    Expression<Func<Params, Tensor, Tensor, Params>> trainStep = (p, x, y) => sgd.Invoke(p, lossGrad.Invoke(p, x, y));
    torchStep = trainStep.JitTorch(TorchBackend.Cpu, 0);
}

const double learningRate = 1.0;
var parameters = InitialParams(seed);
Say(Show(parameters));
if (torchStep is not null) parameters = TorchTensors.ToDevice(parameters, TorchBackend.Cpu);
var rng = new Random(seed);
bool solved = false;
for (int n = 0; n <= 10_000; n++)
{
    // grab a single random input and its target
    int ix = rng.Next(inputs.Length);
    var x = inputs[ix];
    var y = new Tensor(targets[ix]);   // a weak scalar: keeps the float32 computation float32
    // the gradient of the loss for this example, then a step of gradient descent
    if (torchStep is not null) parameters = torchStep(parameters, x, y);
    else
    {
        var grads = lossGradFn(parameters, x, y);
        parameters = Tree.Map((param, grad) => param - learningRate * grad, parameters, grads);
    }
    // every 100 iterations, check whether we have solved XOR
    if (n % 100 == 0)
    {
        Say($"Iteration{n}");
        if (TestAllInputs(parameters)) { solved = true; break; }
    }
}
Say(Show(parameters));
Console.WriteLine(solved ? $"seed {seed}: converged" : $"seed {seed}: did not converge in 10000 iterations");

// ---- 5. jit ----------------------------------------------------------------------------------
// Ad.Jit compiles the gradient for the shapes of the call (float32[3,2], float32[3], ...): tiny tensors become
// straight-line scalar code, shape computations fold away. Like the notebook's %timeit, time one call of each.
var lossGradJit = Ad.Jit(lossGrad);
if (!quiet)
{
    Console.WriteLine();
    Console.WriteLine("Ad.Show(Ad.Grad(loss), example arguments): the specialised program");
    Console.WriteLine(Ad.Show(lossGrad, InitialParams(seed), inputs[1], new Tensor(1.0)));
    double TimeIt(Func<Params, Tensor, Tensor, Params> f)
    {
        var p0 = InitialParams(seed);
        var y1 = new Tensor(1.0);
        for (int i = 0; i < 20_000; i++) f(p0, inputs[1], y1);          // warm up (and compile)
        double best = double.MaxValue;
        for (int r = 0; r < 7; r++)
        {
            const int calls = 20_000;
            var sw = System.Diagnostics.Stopwatch.StartNew();
            for (int i = 0; i < calls; i++) f(p0, inputs[1], y1);
            best = Math.Min(best, sw.Elapsed.TotalMicroseconds / calls);
        }
        return best;
    }
    Console.WriteLine($"un-jitted gradient (Compile() of Ad.Grad(loss)): {TimeIt(lossGradFn):F3} µs per call (best of 7 x 20000)");
    Console.WriteLine($"jitted gradient (Ad.Jit(Ad.Grad(loss))):         {TimeIt(lossGradJit):F3} µs per call (best of 7 x 20000)");
    Console.WriteLine();
}

// The same training loop with the jitted gradient, from the same initial parameters.
parameters = InitialParams(seed);
rng = new Random(seed);
bool solvedJit = false;
for (int n = 0; n <= 10_000; n++)
{
    int ix = rng.Next(inputs.Length);
    var grads = lossGradJit(parameters, inputs[ix], new Tensor(targets[ix]));
    parameters = Tree.Map((param, grad) => param - learningRate * grad, parameters, grads);
    if (n % 100 == 0)
    {
        Say($"Iteration{n}");
        if (TestAllInputs(parameters)) { solvedJit = true; break; }
    }
}
Console.WriteLine(solvedJit ? $"seed {seed}: converged with the jitted gradient" : $"seed {seed}: did not converge with the jitted gradient in 10000 iterations");

// ---- 6. vmap: minibatches -------------------------------------------------------------------
// Ad.Vmap(lossGrad, inAxes: [null, 0, 0]) maps the gradient over axis 0 of x and y, holding the
// parameters fixed: one call gives the 100 per-example gradients (each leaf gains a leading axis of
// 100), and their mean over that axis is the minibatch gradient. No loop: every primitive runs once
// on the whole batch, and Ad.Jit compiles the batched gradient for the batch's shapes.
var batchedGrad = Ad.Vmap(Ad.Grad(loss), inAxes: [null, 0, 0]);
var batchedGradFn = Ad.Jit(batchedGrad);
const int batchSize = 100;
// as the notebook's second call of initial_params(), a fresh draw: from the second key the seed's key splits into
parameters = ParamsFrom(PrngKey.Create(seed).Split().Item2);
Say(Show(parameters));
rng = new Random(seed);
bool solvedBatched = false;
for (int n = 0; n <= 10_000; n++)
{
    // grab a batch of random inputs and their targets
    var xb = new float[batchSize * 2];
    var yb = new float[batchSize];
    for (int b = 0; b < batchSize; b++)
    {
        int ix = rng.Next(inputs.Length);
        inputs[ix].ToFloatArray().CopyTo(xb, 2 * b);
        yb[b] = targets[ix];
    }
    var grads = batchedGradFn(parameters, new Tensor(xb, [batchSize, 2]), new Tensor(yb));
    parameters = Tree.Map((param, grad) => param - learningRate * Mean(grad, 0, false), parameters, grads);
    if (n % 100 == 0)
    {
        Say($"Iteration{n}");
        if (TestAllInputs(parameters)) { solvedBatched = true; break; }
    }
    // The mean gradient over 100 examples is nearly the exact gradient of the mean loss, so unlike the
    // one-example loop above it has no noise to leave a local minimum (for some seeds it stalls
    // there). The notebook's loop would run forever; we start again from a fresh draw instead.
    if (n > 0 && n % 2500 == 0)
    {
        parameters = ParamsFrom(PrngKey.Create(seed).Split().Item2.Split(n / 2500 + 1)[n / 2500]);
        Say("restarting from a fresh draw of the parameters");
    }
}
Say(Show(parameters));
Console.WriteLine(solvedBatched ? $"seed {seed}: minibatch training converged" : $"seed {seed}: minibatch training did not converge in 10000 iterations");
return solved && solvedJit && solvedBatched ? 0 : 1;

static string Show(Params p) =>
    $"[{p.W1},\n {p.B1},\n {p.W2},\n {p.B2}]";

/// <summary>The network's parameters: a pytree of four tensors.</summary>
record Params(Tensor W1, Tensor B1, Tensor W2, Tensor B2);
