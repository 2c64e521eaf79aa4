"""SageMaker endpoint configurations admit the instance types SageMaker does.

moto 5.2 checks a production variant's InstanceType against a list of its own that stops at the g4dn/p3 era, so an
ml.g5 or ml.p5 variant, which SageMaker hosts, is refused: the emulator was stricter than AWS. The list here is AWS's
own record, the ProductionVariantInstanceType enum of the SageMaker API model botocore ships (the model AWS
publishes for its SDKs), and the refusal keeps moto's ValidationError for a type outside it.
"""

from __future__ import annotations

from functools import lru_cache

import botocore.session
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpointConfig


@lru_cache(maxsize=1)
def production_variant_instance_types() -> tuple[str, ...]:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return tuple(model.shape_for("ProductionVariantInstanceType").enum)


def _validate_instance_type(self: FakeEndpointConfig, instance_type: str) -> None:
    if instance_type not in production_variant_instance_types():
        raise ValidationError(message=f"Value '{instance_type}' at 'instanceType' failed to satisfy constraint: "
                                      f"Member must satisfy enum value set: {list(production_variant_instance_types())}")


def install() -> None:
    FakeEndpointConfig.validate_instance_type = _validate_instance_type  # type: ignore[method-assign]
