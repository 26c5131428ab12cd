import sys, time, importlib.util, numpy as np, torch
sys.path.insert(0, "/tmp")
import bptt_old
from spikewire.infer._lowrank_bptt import make_objective as new
torch.set_num_threads(2)
K,T,N,R=[int(v) for v in sys.argv[1].split("x")]+[2]
rng=np.random.default_rng(0); dt=torch.float64
Y=torch.tensor(rng.poisson(0.15,(K,T,N)),dtype=dt); E=torch.full((K,1,1),0.01,dtype=dt)
ps=[torch.tensor(a,dtype=dt,requires_grad=True) for a in (rng.standard_normal((N,R)),2*rng.standard_normal((N,R)),np.zeros(N),rng.uniform(-2,2,(K,R)))]
fo=bptt_old.make_objective(torch,Y,E,None,alpha=0.2,observation="poisson",rate_offset=12.5,rate_gain=7.5)
fn=new(torch,Y,E,None,alpha=0.2,observation="poisson",rate_offset=12.5,rate_gain=7.5)
res={"old":[],"new":[]}
for rep in range(int(sys.argv[2])):
    for name,f in (("old",fo),("new",fn)):
        t0=time.perf_counter(); v=f(*ps); g=torch.autograd.grad(v,ps); res[name].append(time.perf_counter()-t0)
        res[name+"g"]=g
print({k:round(float(np.median(v)),4) for k,v in res.items() if not k.endswith("g")}, max(float((a-b).abs().max()/b.abs().max()) for a,b in zip(res["newg"],res["oldg"])))
