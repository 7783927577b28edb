# gradlint wild corpus: file gpt_from_scratch/models/utils.py of the PyPI distribution gpt-from-scratch==1.1, copied unmodified below this header.
# Source: https://pypi.org/project/gpt-from-scratch/1.1/ (upstream https://pypi.org/project/gpt-from-scratch/1.1/)
# Licence: MIT; Copyright (c) the gpt-from-scratch author (the wheel declares MIT in its metadata, names no holder and ships no licence file). Full text: tests/wild/LICENSES/gpt-from-scratch.txt
from dataclasses import dataclass



@dataclass
class GPTConfig:
    vocab_size: int = 50257  
    emb_dim: int = 768       
    context_length: int = 1024  
    drop_rate: float = 0.0 
    n_layers: int = 12      
    n_heads: int = 12       
    qkv_bias: bool = False  