"""Generates ovseg/v1/*_pb2*.py from the repository's proto/ovseg/v1/ while building."""
import pathlib

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent
PROTO_ROOT = HERE.parent.parent / "proto"
PROTOS = ["ovseg/v1/segmentation.proto", "ovseg/v1/admin.proto"]


class BuildPyWithStubs(build_py):
    def run(self):
        import grpc_tools
        from grpc_tools import protoc

        out = pathlib.Path(self.build_lib)
        (out / "ovseg" / "v1").mkdir(parents=True, exist_ok=True)
        well_known = pathlib.Path(grpc_tools.__file__).parent / "_proto"
        for proto in PROTOS:
            if protoc.main(["protoc", f"-I{PROTO_ROOT}", f"-I{well_known}",
                            f"--python_out={out}", f"--pyi_out={out}",
                            f"--grpc_python_out={out}", proto]) != 0:
                raise RuntimeError(f"protoc failed on {proto}")
        super().run()


setup(cmdclass={"build_py": BuildPyWithStubs})
