"""Triton kernels, installed as ``cardionets.kernels``.

Import only from a backend that has been chosen: importing this package imports triton. Every
kernel also runs on CPU in the Triton interpreter (TRITON_INTERPRET=1), which is how CI tests them.
"""
